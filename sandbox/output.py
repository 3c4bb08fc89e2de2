"""Bounded capture of a command's output: keep the head and the tail, drop the middle.

An agent needs the start of an error and its end; holding 200 MB of `yes` helps nobody.
"""

from __future__ import annotations

from sandbox.result import TRUNCATION_MARKER


class BoundedBuffer:
    """Keeps at most `limit` bytes: the first half and the latest half of what was written."""

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._half:  # trim in batches, not on every write
                del self._tail[: len(self._tail) - self._half]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + min(len(self._tail), self._half)

    def getvalue(self) -> bytes:
        tail = bytes(self._tail[-self._half :]) if self._tail else b""
        if not self.truncated:
            return bytes(self._head) + tail
        dropped = self.total - len(self._head) - len(tail)
        return bytes(self._head) + TRUNCATION_MARKER.format(dropped=dropped).encode() + tail

    def text(self) -> str:
        return self.getvalue().decode("utf-8", errors="replace")
