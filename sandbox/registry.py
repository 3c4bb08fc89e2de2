"""Live sandboxes of one process, so a signal or a crash path can close them all."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Protocol


class Closeable(Protocol):
    def close(self) -> None: ...


class SandboxRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, Closeable] = {}

    def add(self, sandbox: Closeable) -> None:
        with self._lock:
            self._live[id(sandbox)] = sandbox

    def discard(self, sandbox: Closeable) -> None:
        with self._lock:
            self._live.pop(id(sandbox), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def close_all(self) -> None:
        with self._lock:
            live = list(self._live.values())
        for sandbox in live:
            with contextlib.suppress(Exception):  # closing the rest matters more
                sandbox.close()


@contextlib.contextmanager
def close_on_signals(registry: SandboxRegistry) -> Iterator[None]:
    """While active, SIGINT/SIGTERM first close every live sandbox, then behave as before
    (KeyboardInterrupt, or the previous handler). Only the main thread may install it."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        registry.close_all()
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
