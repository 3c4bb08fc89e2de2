"""How Quorum tells a person what went wrong: one formatter for every error the CLI shows
(the App's comments are to use the same `format_error`).

- a file: `FILE:LINE: what is wrong` (`envs.loader`'s LoadError);
- an option: `--budget-usd: Input should be greater than or equal to 0 (got -1.0)`, whether
  click refused it or the pydantic model it feeds did;
- any other QuorumError: its message; each error's `hint:` on a line of its own.

The CLI prints `error: TEXT` on stderr and exits 1 for every error, usage errors included
(click's own 2 would read as `quorum solve`'s abstention).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from envs.loader import describe
from quorum import logs
from sandbox.errors import QuorumError

EXIT_ERROR = 1


def format_error(exc: BaseException, options: Mapping[str, str] | None = None) -> str:
    """The text of an error as Quorum shows it, without the leading `error: `. `options`
    (a command's parameter name -> its flag) names the flag behind a pydantic field."""
    if isinstance(exc, typer.TyperException):  # click's errors: usage, bad values, files
        text = exc.format_message()
        path = getattr(getattr(exc, "ctx", None), "command_path", None)
        if path and is_usage_error(exc):
            text += f"\n  hint: see `{path} --help`"
        return text
    if isinstance(exc, ValidationError):
        flags = options or {}
        return describe(exc, label=lambda loc: _flag(loc, flags))
    if isinstance(exc, QuorumError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def is_usage_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)


def is_help_request(exc: BaseException) -> bool:
    """A group run without a command (`quorum images`): its help, not an error."""
    return any(cls.__name__ == "NoArgsIsHelpError" for cls in type(exc).__mro__)


UNEXPECTED_HINT = "an unexpected error: a Quorum bug; please report it with the command line"


def print_error(
    exc: BaseException,
    console: Console | None = None,
    options: Mapping[str, str] | None = None,
    *,
    json_lines: bool = False,
    unexpected: bool = False,
) -> None:
    """`error: TEXT` on stderr (or `console`), the text never read as markup or wrapped.
    `json_lines` (`--log-json`, no console given): the same lines as JSON log records, as
    a command's own console writes them. `unexpected`: an exception no code meant to
    raise; its traceback goes only into the JSON stream (redacted), never on a terminal."""
    text = format_error(exc, options)
    if unexpected:
        text += f"\n  hint: {UNEXPECTED_HINT}"
    if json_lines and console is None:
        logs.configure(True)
        logs.console(True).print(f"error: {text}", markup=False, highlight=False)
        if unexpected:
            logging.getLogger("quorum.error").error(f"{type(exc).__name__}: traceback",
                                                    exc_info=exc)  # fmt: skip
        return
    console = console or Console(stderr=True)
    console.print(Text("error: ", style="red") + Text(text), soft_wrap=True, highlight=False)


def fail(
    exc: BaseException, console: Console | None = None, options: Mapping[str, str] | None = None
) -> typer.Exit:
    """Print the error; the Exit to raise: `raise fail(exc) from exc`."""
    print_error(exc, console, options)
    return typer.Exit(EXIT_ERROR)


def command_flags(command: Any) -> dict[str, str]:
    """A command's parameter names -> how the user writes them (`--budget-usd`, `-n`)."""
    flags: dict[str, str] = {}
    for param in getattr(command, "params", None) or []:
        if not param.name:
            continue
        if param.param_type_name == "option" and param.opts:
            flags[param.name] = sorted(param.opts, key=lambda o: (not o.startswith("--"), o))[0]
        else:
            flags[param.name] = param.name.upper()
    return flags


def _flag(loc: tuple[int | str, ...], flags: Mapping[str, str]) -> str:
    """A pydantic location as the option behind it: the field's own name, else the one
    option whose name extends it (a field `budget` -> `--budget-usd`, if no other option
    starts `budget_`), else the dotted location."""
    names = [p for p in loc if isinstance(p, str)]
    field = names[-1] if names else ""
    if field in flags:
        return flags[field]
    longer = [flag for name, flag in flags.items() if name.startswith(field + "_")]
    if field and len(longer) == 1:
        return longer[0]
    return ".".join(str(p) for p in loc)
