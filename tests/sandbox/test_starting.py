"""StartingSandbox: calls wait for the start, a failed start surfaces at the first call, and
closing never leaves a started sandbox behind."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.local import LocalSandbox
from sandbox.starting import StartingSandbox


class _Gated:
    """A start that waits until the test lets it finish, and remembers what it made."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.release = threading.Event()
        self.made: list[LocalSandbox] = []

    def __call__(self) -> LocalSandbox:
        assert self.release.wait(10)
        box = LocalSandbox(self.repo, warn=False)
        self.made.append(box)
        return box


def test_calls_wait_for_the_start_then_reach_the_sandbox(repo: Path) -> None:
    start = _Gated(repo)
    with ThreadPoolExecutor(2) as pool:
        box = StartingSandbox.begin(start, pool)
        assert not box.ready
        result = pool.submit(box.exec, "cat pkg/calc.py", timeout=10)
        assert not result.done()  # blocked on the start
        start.release.set()
        assert "def add" in result.result(10).stdout
        assert box.ready
        box.write_file("new.txt", "hi")
        assert "new.txt" in box.diff()
        box.close()
    assert not Path(start.made[0].workspace).exists()


def test_a_failed_start_raises_at_the_first_call_and_close_is_quiet() -> None:
    def broken() -> LocalSandbox:
        raise SandboxError("engine gone")

    with ThreadPoolExecutor(1) as pool:
        box = StartingSandbox.begin(broken, pool)
        with pytest.raises(SandboxError, match="engine gone"):
            box.exec("true", timeout=5)
        box.close()


def test_close_during_the_start_waits_and_closes_what_started(repo: Path) -> None:
    start = _Gated(repo)
    with ThreadPoolExecutor(1) as pool:
        box = StartingSandbox.begin(start, pool)
        closing = threading.Thread(target=box.close)
        closing.start()
        start.release.set()
        closing.join(10)
    assert len(start.made) == 1 and not Path(start.made[0].workspace).exists()


def test_close_before_the_start_began_cancels_it(repo: Path) -> None:
    start = _Gated(repo)
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(start.release.wait, 10)  # occupies the only worker
        box = StartingSandbox.begin(start, pool)
        box.close()
        start.release.set()
        blocker.result(10)
    assert start.made == []
