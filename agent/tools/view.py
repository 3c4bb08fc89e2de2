"""`view`: a file with line numbers (optionally a range), or a directory's entries."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from agent.llm.toolspec import ToolSpec
from agent.tools import args as a
from agent.tools import files
from agent.tools.base import ToolError
from agent.tools.config import ToolConfig
from agent.tools.text import number, split_lines, truncate
from sandbox.protocol import Sandbox

DIR_DEPTH = 2
# Never useful to list, often huge.
SKIP_DIRS = (".git", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache", ".tox")


class ViewTool:
    def __init__(self, config: ToolConfig) -> None:
        self.config = config
        self.spec = ToolSpec(
            name="view",
            description=(
                "Show a file with line numbers, or the lines start_line..end_line of it "
                f"(inclusive, 1-based). On a directory, list its entries {DIR_DEPTH} levels "
                "deep. Paths are relative to the repository root."),
            parameters={
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "file or directory"},
                    "start_line": {"type": "integer", "description": "first line to show"},
                    "end_line": {"type": "integer",
                                 "description": "last line to show; -1 for the end of file"},
                },
                "required": ["path"],
                "additionalProperties": False,
            },
        )

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        path = a.string(args, "path", "view", required=True, nonempty=True)
        assert path is not None
        start = a.integer(args, "start_line", "view")
        end = a.integer(args, "end_line", "view")
        info = files.inspect(sandbox, path)
        if info.kind == "dir":
            if start is not None or end is not None:
                raise ToolError(f"{info.shown} is a directory: line ranges apply to files only")
            return self._directory(sandbox, info)
        info = files.require_file(sandbox, path, self.config.max_file_bytes)
        text = files.read_text(sandbox, info)
        return self._file(info.shown, text, start, end)

    def _file(self, shown: str, text: str, start: int | None, end: int | None) -> str:
        lines = split_lines(text)
        total = len(lines)
        if total == 0:
            if start not in (None, 1) or end not in (None, -1, 0, 1):
                raise ToolError(f"{shown} is empty: it has no lines to show")
            return f"{shown} is empty."
        first = 1 if start is None else start
        last = total if end is None or end == -1 else end
        if first < 1:
            raise ToolError(f"start_line must be 1 or more, got {first}")
        if first > total:
            raise ToolError(f"start_line {first} is past the end of {shown}, which has "
                            f"{total} lines")
        if last < first:
            raise ToolError(f"end_line {last} is before start_line {first}")
        note = ""
        if last > total:
            note = f" (end_line {last} is past the end; the file has {total} lines)"
            last = total
        header = f"{shown}, lines {first}-{last} of {total}{note}:\n"
        body = number(lines[first - 1: last], first)
        hint = "view a smaller range with start_line/end_line"
        return truncate(header + body, self.config.max_observation_chars, hint=hint)

    def _directory(self, sandbox: Sandbox, info: files.PathInfo) -> str:
        prune = " -o ".join(f"-name {shlex.quote(d)}" for d in SKIP_DIRS)
        # Directories get a trailing slash; sorted so the listing is stable.
        cmd = (f"cd {shlex.quote(info.absolute)} && find . -mindepth 1 -maxdepth {DIR_DEPTH} "
               f"\\( {prune} \\) -prune -o \\( -type d -printf '%P/\\n' \\) -o -printf '%P\\n' "
               "| LC_ALL=C sort")
        result = sandbox.exec(cmd, timeout=self.config.search_timeout_s)
        if not result.ok:
            raise ToolError(f"cannot list {info.shown}: {result.output.strip()}")
        entries = result.stdout.splitlines()
        where = "the repository root" if info.shown == "." else f"{info.shown}/"
        if not entries:
            return f"{where} is empty."
        listing = "\n".join(entries)
        header = f"{len(entries)} entries in {where} (up to {DIR_DEPTH} levels deep):\n"
        hint = "view a subdirectory, or use bash `find`"
        return truncate(header + listing, self.config.max_observation_chars, hint=hint)
