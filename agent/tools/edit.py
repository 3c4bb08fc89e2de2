"""`edit`: replace a unique string, insert lines, or create a file. Every refusal says
exactly why, so the model's next try can succeed; every success shows the result."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.llm.toolspec import ToolSpec
from agent.tools import args as a
from agent.tools import files
from agent.tools.base import ToolError
from agent.tools.config import ToolConfig
from agent.tools.matching import close_matches, occurrence_lines
from agent.tools.text import number, split_lines, truncate
from agent.tools.treesitter.parse import syntax_error_line
from sandbox.protocol import Sandbox

COMMANDS = ("str_replace", "insert", "create")
# What `view` puts before each line; a model sometimes copies it into old_str.
_NUMBERED = re.compile(r"^\s*\d+\t")


class EditTool:
    def __init__(self, config: ToolConfig) -> None:
        self.config = config
        self.spec = ToolSpec(
            name="edit",
            description=(
                "Change files. `str_replace`: replace `old_str`, which must occur exactly once "
                "in the file (whitespace included), by `new_str`. `insert`: insert `new_str` "
                "after line `insert_line` (0 for the top). `create`: write a new file with "
                "`file_text` (parent directories are made; an existing file is replaced only "
                "with `overwrite: true`). Shows the edited lines afterwards."),
            parameters={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "enum": list(COMMANDS)},
                    "path": {"type": "string", "description": "file, relative to the root"},
                    "old_str": {"type": "string", "description": "str_replace: text to replace"},
                    "new_str": {"type": "string",
                                "description": "str_replace: replacement; insert: new text"},
                    "insert_line": {"type": "integer",
                                    "description": "insert: the line after which to insert"},
                    "file_text": {"type": "string", "description": "create: the content"},
                    "overwrite": {"type": "boolean",
                                  "description": "create: replace an existing file"},
                },
                "required": ["command", "path"],
                "additionalProperties": False,
            },
        )

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        command = a.choice(args, "command", "edit", COMMANDS)
        path = a.string(args, "path", "edit", required=True, nonempty=True)
        assert path is not None
        if command == "create":
            return self._create(sandbox, path, args)
        info = _not_git(files.require_file(sandbox, path, self.config.max_file_bytes))
        before = files.read_text(sandbox, info)
        if command == "str_replace":
            after, first, last = self._replace(info.shown, before, args)
        else:
            after, first, last = self._insert(info.shown, before, args)
        files.write_text(sandbox, info, after)
        return self._report(info.shown, before, after, first, last, f"Edited {info.shown}")

    # -- commands ---------------------------------------------------------------------------
    def _replace(self, shown: str, text: str, args: Mapping[str, Any]) -> tuple[str, int, int]:
        old = a.string(args, "old_str", "edit", required=True)
        new = a.string(args, "new_str", "edit", default="")
        assert old is not None and new is not None
        if not old:
            raise ToolError("old_str is empty: give the exact text to replace (to add text, "
                            "use the `insert` command)")
        if old == new:
            raise ToolError("old_str and new_str are identical: nothing would change")
        if "\r\n" in text and "\r" not in old and old not in text:
            # A CRLF file: the model writes \n; match and write in the file's convention.
            old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
        where = occurrence_lines(text, old)
        if not where:
            raise ToolError(self._no_match(shown, text, old))
        if len(where) > 1:
            raise ToolError(f"old_str occurs {len(where)} times in {shown}, starting at lines "
                            f"{', '.join(map(str, where))}; it must occur exactly once: add "
                            "surrounding lines to old_str to pick one")
        start = text.index(old)
        after = text[:start] + new + text[start + len(old):]
        first = where[0]
        return after, first, first + new.count("\n")

    def _no_match(self, shown: str, text: str, old: str) -> str:
        message = (f"old_str was not found in {shown}; it must match the file exactly, "
                   "whitespace and indentation included.")
        old_lines = old.strip("\n").split("\n")
        if all(_NUMBERED.match(line) for line in old_lines):
            return (f"{message} It seems to include the line numbers that `view` shows: leave "
                    "them (and the tab after them) out.")
        near = close_matches(text, old)
        if not near:
            return f"{message} No similar text either: view the file to see its current content."
        shown_near = []
        for line, ratio, window in near:
            end = line + window.count("\n")
            body = number(split_lines(window) or [""], line)
            shown_near.append(f"lines {line}-{end} ({ratio:.0%} similar):\n{body}")
        return f"{message} The most similar text:\n" + "\n".join(shown_near)

    def _insert(self, shown: str, text: str, args: Mapping[str, Any]) -> tuple[str, int, int]:
        at = a.integer(args, "insert_line", "edit", required=True)
        new = a.string(args, "new_str", "edit", required=True)
        assert at is not None and new is not None
        pieces = re.findall(r"[^\n]*\n|[^\n]+$", text)  # lines with their endings
        if not 0 <= at <= len(pieces):
            raise ToolError(f"insert_line must be between 0 (top of file) and {len(pieces)} "
                            f"(the last line of {shown}); got {at}")
        eol = "\r\n" if "\r\n" in text else "\n"
        if eol == "\r\n":
            new = new.replace("\r\n", "\n").replace("\n", "\r\n")
        if pieces and at == len(pieces) and not pieces[-1].endswith("\n"):
            pieces[-1] += eol  # the file had no final newline; the old last line needs one
        if not new.endswith("\n"):
            new += eol
        after = "".join(pieces[:at]) + new + "".join(pieces[at:])
        return after, at + 1, at + new.count("\n")

    def _create(self, sandbox: Sandbox, path: str, args: Mapping[str, Any]) -> str:
        content = a.string(args, "file_text", "edit", required=True)
        overwrite = a.boolean(args, "overwrite", "edit")
        assert content is not None
        info = _not_git(files.inspect(sandbox, path))
        if info.kind == "dir":
            raise ToolError(f"{info.shown} is a directory")
        if info.kind == "other":
            raise ToolError(f"{info.shown} exists and is not a regular file")
        if info.kind == "file" and not overwrite:
            raise ToolError(f"{info.shown} already exists: use str_replace or insert to change "
                            "it, or create with `overwrite: true` to replace it entirely")
        files.write_text(sandbox, info, content)
        verb = "Overwrote" if info.kind == "file" else "Created"
        lines = len(split_lines(content))
        message = f"{verb} {info.shown} ({lines} line{'s' if lines != 1 else ''})."
        return message + _syntax_warning(info.shown, None, content)

    # -- the result --------------------------------------------------------------------------
    def _report(self, shown: str, before: str, after: str, first: int, last: int,
                verb: str) -> str:
        lines = split_lines(after)
        ctx = self.config.snippet_context_lines
        lo = max(first - ctx, 1)
        hi = min(max(last, first) + ctx, len(lines))
        snippet = number(lines[lo - 1: hi], lo) if lines else "(the file is now empty)"
        text = (f"{verb}. Lines {lo}-{hi} now read:\n{snippet}\n"
                "Review it; edit again if it is not what you meant.")
        text += _syntax_warning(shown, before, after)
        return truncate(text, self.config.max_observation_chars)


def _not_git(info: files.PathInfo) -> files.PathInfo:
    """The repository's history is not the model's to edit (it would corrupt the diff)."""
    if info.shown == ".git" or info.shown.startswith(".git/"):
        raise ToolError("refusing to edit inside .git: change the working tree only")
    return info


def _syntax_warning(shown: str, before: str | None, after: str) -> str:
    """Warn (never refuse: a multi-step edit may pass through broken states) when a file
    that parsed before no longer does."""
    line = syntax_error_line(shown, after)
    if line is None or (before is not None and syntax_error_line(shown, before) is not None):
        return ""
    return (f"\nWarning: {shown} now has a syntax error near line {line}; fix it unless "
            "a further edit completes the change.")
