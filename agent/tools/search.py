"""`search`: grep over the repository, a file's outline, or where a symbol is defined.
Files are read through the sandbox and parsed here on the host, so a container needs no
parser installed."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from agent.llm.toolspec import ToolSpec
from agent.tools import args as a
from agent.tools import files
from agent.tools.base import ToolError
from agent.tools.config import ToolConfig
from agent.tools.grep import files_mentioning, grep
from agent.tools.text import truncate
from agent.tools.treesitter.languages import EXTENSIONS, LANGUAGES, language_of
from agent.tools.treesitter.parse import Definition, definitions
from sandbox.protocol import Sandbox

COMMANDS = ("grep", "outline", "symbol")
_LANGUAGE_NAMES = ", ".join(sorted({d.name for d in LANGUAGES.values()} - {"TSX"}))


class SearchTool:
    def __init__(self, config: ToolConfig) -> None:
        self.config = config
        self.spec = ToolSpec(
            name="search",
            description=(
                "Search the code. `grep`: lines matching the regular expression `pattern` "
                "(optionally under `path`), as path:line:text. `outline`: the classes, "
                "functions and methods of the file `path` with their line ranges. `symbol`: "
                "where the class/function/method `name` is defined across the repository "
                f"(`Class.method` narrows it). outline and symbol know {_LANGUAGE_NAMES}."),
            parameters={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "enum": list(COMMANDS)},
                    "pattern": {"type": "string",
                                "description": "grep: extended regular expression"},
                    "path": {"type": "string",
                             "description": "grep: file or directory to search (default: "
                                            "all); outline: the file"},
                    "name": {"type": "string", "description": "symbol: the name to find"},
                    "ignore_case": {"type": "boolean", "description": "grep: ignore case"},
                },
                "required": ["command"],
                "additionalProperties": False,
            },
        )

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        command = a.choice(args, "command", "search", COMMANDS)
        if command == "grep":
            text = self._grep(sandbox, args)
        elif command == "outline":
            text = self._outline(sandbox, args)
        else:
            text = self._symbol(sandbox, args)
        return truncate(text, self.config.max_observation_chars)

    def _grep(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        pattern = a.string(args, "pattern", "search", required=True, nonempty=True)
        path = a.string(args, "path", "search")
        assert pattern is not None
        shown = None
        if path:
            info = files.inspect(sandbox, path)
            if info.kind == "missing":
                raise ToolError(f"{info.shown} does not exist")
            shown = info.shown
        found = grep(sandbox, pattern, path=shown, ignore_case=a.boolean(args, "ignore_case",
                     "search"), timeout=self.config.search_timeout_s)
        note = ("(not a valid regular expression; searched as plain text)\n"
                if found.literal_fallback else "")
        if not found.lines:
            return note + f"No matches for {pattern!r}" + (f" in {shown}." if shown else ".")
        cut = self.config.grep_max_line_chars
        hits = [line if len(line) <= cut else line[: cut - 3] + "..." for line in found.lines]
        limit = self.config.grep_max_hits
        nfiles = len({_grep_path(h) for h in found.lines})
        count = f"{len(hits)}{'' if found.complete else '+'}"
        header = f"{count} matches in {nfiles} files"
        shown_hits = hits[:limit]
        rest = len(hits) - len(shown_hits)
        body = "\n".join(shown_hits)
        if rest:
            body += (f"\n[... and {rest}{'' if found.complete else '+'} more matches: narrow "
                     "the pattern or `path`]")
        return f"{note}{header}:\n{body}"

    def _outline(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        path = a.string(args, "path", "search", required=True, nonempty=True)
        assert path is not None
        info = files.require_file(sandbox, path)
        if language_of(info.shown) is None:
            raise ToolError(f"outline does not know the language of {info.shown}; it reads "
                            f"{_extensions()}. Use view or grep instead")
        source = files.read_bytes(sandbox, info)
        if len(source) > self.config.parse_max_bytes:
            raise ToolError(f"{info.shown} is too large to outline ({len(source)} bytes); "
                            "use grep on it instead")
        defs = definitions(info.shown, source) or []
        if not defs:
            return f"{info.shown}: no classes or functions found."
        lines = [f"{info.shown}: {len(defs)} definitions (line range, first line):"]
        width = len(str(max(d.end_line for d in defs)))
        for d in defs:
            span = f"{d.start_line}-{d.end_line}".ljust(2 * width + 1)
            # The first line usually says what it is (`class Item:`); when it does not
            # name the definition (a multi-line header), kind and name say it instead.
            what = d.signature if d.name in d.signature else f"{d.kind} {d.name}"
            lines.append(f"{span}  {'  ' * d.depth}{what}")
        return "\n".join(lines)

    def _symbol(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        name = a.string(args, "name", "search", required=True, nonempty=True)
        assert name is not None
        parts = [p for p in name.strip().replace("::", ".").split(".") if p]
        if not parts or not all(p.replace("_", "").replace("$", "").isalnum() for p in parts):
            raise ToolError(f"{name!r} is not a symbol name; give an identifier such as "
                            "`parse` or `Parser.parse` (use grep for other text)")
        leaf, owners = parts[-1], tuple(parts[:-1])
        globs = [f"*{ext}" for ext in EXTENSIONS]
        candidates = files_mentioning(sandbox, leaf, globs, timeout=self.config.search_timeout_s)
        skipped = len(candidates) - self.config.symbol_max_files
        hits: list[tuple[str, Definition]] = []
        too_big = unread = 0
        for path in candidates[: self.config.symbol_max_files]:
            info = files.PathInfo(kind="file", shown=path,
                                  absolute=posixpath.join(sandbox.workspace, path))
            try:
                source = files.read_bytes(sandbox, info)
            except ToolError:  # unreadable (a dangling symlink, say): one file, not the search
                unread += 1
                continue
            if len(source) > self.config.parse_max_bytes:
                too_big += 1
                continue
            for d in definitions(path, source) or []:
                if d.name == leaf and d.parents[len(d.parents) - len(owners):] == owners:
                    hits.append((path, d))
        notes = []
        if skipped > 0:
            notes.append(f"{skipped} more files mention it and were not parsed")
        if too_big:
            notes.append(f"{too_big} files too large to parse were skipped")
        if unread:
            notes.append(f"{unread} unreadable files were skipped")
        tail = f"\n({'; '.join(notes)})" if notes else ""
        if not hits:
            return (f"No definition of {name!r} found in the {len(candidates)} {_LANGUAGE_NAMES}"
                    f" files that mention it. Try grep.{tail}")
        limit = self.config.symbol_max_hits
        lines = [f"{len(hits)} definition{'s' if len(hits) != 1 else ''} of {name!r}:"]
        for path, d in hits[:limit]:
            lines.append(f"{path}:{d.start_line}-{d.end_line}  {d.kind} {d.qualified}: "
                         f"{d.signature}")
        if len(hits) > limit:
            lines.append(f"[... and {len(hits) - limit} more: qualify the name, e.g. "
                         "Class.method]")
        return "\n".join(lines) + tail


def _grep_path(hit: str) -> str:
    return hit.split(":", 1)[0]


def _extensions() -> str:
    return ", ".join(sorted(EXTENSIONS))
