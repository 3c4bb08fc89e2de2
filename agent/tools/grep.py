"""Grep over the repository inside the sandbox: `git grep` (fast, honours .gitignore,
sees untracked files too) or, outside a git checkout, `grep -r` without .git."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agent.tools.base import ToolError
from sandbox.protocol import Sandbox
from sandbox.result import ExecResult

_NO_GIT = ("not a git repository", "command not found")


@dataclass(frozen=True)
class GrepResult:
    lines: list[str]  # "path:line:text"
    complete: bool  # False when the sandbox cut the output: the count is a lower bound
    literal_fallback: bool  # the pattern was not a valid regex and was searched as text


def grep(sandbox: Sandbox, pattern: str, *, path: str | None, ignore_case: bool,
         timeout: float) -> GrepResult:
    result = _run(sandbox, pattern, path, ignore_case, fixed=False, timeout=timeout)
    literal = False
    if result.exit_code not in (0, 1) and not result.timed_out:
        # Models often search for code such as `foo(` that is no valid regex: search it as
        # plain text instead of failing the step.
        retry = _run(sandbox, pattern, path, ignore_case, fixed=True, timeout=timeout)
        if retry.exit_code in (0, 1):
            result, literal = retry, True
    if result.timed_out:
        raise ToolError(f"the search timed out after {timeout:g} s; narrow it with `path`")
    if result.exit_code not in (0, 1):
        raise ToolError(f"grep failed: {result.stderr.strip() or result.output.strip()}")
    lines = [line.removeprefix("./") for line in result.stdout.splitlines() if line]
    return GrepResult(lines=lines, complete=not result.truncated, literal_fallback=literal)


def files_mentioning(sandbox: Sandbox, word: str, globs: list[str], *,
                     timeout: float) -> list[str]:
    """Files (of the given name globs) in which `word` occurs as a whole word."""
    specs = " ".join(shlex.quote(g) for g in globs)
    w = shlex.quote(word)
    git = f"git grep -l -I -w -F --untracked -e {w} -- {specs}"
    includes = " ".join(f"--include={shlex.quote(g)}" for g in globs)
    plain = f"grep -rlIwF --exclude-dir=.git {includes} -e {w} ."
    result = _with_fallback(sandbox, git, plain, timeout)
    if result.timed_out:
        raise ToolError(f"the symbol search timed out after {timeout:g} s")
    if result.exit_code not in (0, 1):
        raise ToolError(f"listing files failed: {result.output.strip()}")
    return [line.removeprefix("./") for line in result.stdout.splitlines() if line]


def _run(sandbox: Sandbox, pattern: str, path: str | None, ignore_case: bool, *,
         fixed: bool, timeout: float) -> ExecResult:
    flags = ("-i " if ignore_case else "") + ("-F" if fixed else "-E")
    p = shlex.quote(pattern)
    where = shlex.quote(f"./{path}") if path else "."  # ./ so no path reads as an option
    git = f"git grep -n -I --untracked --no-color {flags} -e {p} -- {where}"
    plain = f"grep -rnI --exclude-dir=.git {flags} -e {p} {where}"
    return _with_fallback(sandbox, git, plain, timeout)


def _with_fallback(sandbox: Sandbox, git: str, plain: str, timeout: float) -> ExecResult:
    result = sandbox.exec(git, timeout=timeout)
    if result.exit_code not in (0, 1) and any(s in result.stderr for s in _NO_GIT):
        result = sandbox.exec(plain, timeout=timeout)
    return result
