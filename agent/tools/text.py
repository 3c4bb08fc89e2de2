"""Text helpers shared by the tools: truncation, line numbers, decoding."""

from __future__ import annotations

from agent.tools.base import ToolError

MARKER = "\n[... {chars} characters ({lines} lines) truncated by quorum{hint} ...]\n"


def truncate(text: str, limit: int, *, hint: str = "") -> str:
    """`text` cut to about `limit` characters, keeping its head and its tail (where
    tracebacks and summaries end up) around a marker that says how much is gone."""
    if len(text) <= limit:
        return text
    keep = max(limit - 100, 2)  # room for the marker itself
    head, tail = text[: keep // 2], text[len(text) - (keep - keep // 2):]
    # Cut at line boundaries when one is near, so no line is shown half.
    if (nl := head.rfind("\n")) > len(head) // 2:
        head = head[: nl + 1]
    if 0 <= (nl := tail.find("\n")) < len(tail) // 2:
        tail = tail[nl + 1:]
    dropped = text[len(head): len(text) - len(tail)]
    marker = MARKER.format(chars=len(dropped), lines=dropped.count("\n"),
                           hint=f"; {hint}" if hint else "")
    return head.rstrip("\n") + marker + tail


def number(lines: list[str], first: int) -> str:
    """Lines prefixed with their 1-based numbers, as `cat -n` shows them."""
    width = max(len(str(first + len(lines) - 1)), 4)
    return "\n".join(f"{first + i:>{width}}\t{line}" for i, line in enumerate(lines))


def decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{path} is not a UTF-8 text file (undecodable byte at offset "
                        f"{exc.start}); inspect it with bash, e.g. `file {path}` or "
                        f"`xxd {path} | head`") from exc


def split_lines(text: str) -> list[str]:
    """Lines without their endings; a final newline does not make an extra empty line.
    Only \n splits (unlike str.splitlines), so numbers agree with grep, sed and git."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
