from __future__ import annotations

import pytest

from sandbox.errors import PathEscape
from sandbox.output import BoundedBuffer
from sandbox.paths import join_inside


def test_small_output_is_kept_whole() -> None:
    buf = BoundedBuffer(100)
    for part in (b"abc", b"def"):
        buf.write(part)
    assert buf.getvalue() == b"abcdef" and not buf.truncated


def test_large_output_keeps_head_and_tail_and_counts_the_rest() -> None:
    buf = BoundedBuffer(10)
    buf.write(b"HEAD!" + b"x" * 1000)
    buf.write(b"TAIL!")
    value = buf.getvalue()
    assert buf.truncated and value.startswith(b"HEAD!") and value.endswith(b"TAIL!")
    assert b"1000 bytes dropped" in value
    assert buf.total == 1010


def test_exactly_at_the_limit_is_not_truncated() -> None:
    buf = BoundedBuffer(10)
    buf.write(b"0123456789")
    assert not buf.truncated and buf.getvalue() == b"0123456789"


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b.py", "/ws/a/b.py"), ("/ws/a", "/ws/a"), ("a/../b", "/ws/b"), (".", "/ws")],
)
def test_paths_inside(path: str, expected: str) -> None:
    assert join_inside("/ws", path) == expected


@pytest.mark.parametrize("path", ["..", "../ws2/x", "/ws2", "/etc/passwd", "", "a\x00b"])
def test_paths_outside(path: str) -> None:
    with pytest.raises(PathEscape):
        join_inside("/ws", path)
