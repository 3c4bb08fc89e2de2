"""Quorum's logs: stdlib logging, human-readable on a terminal, one JSON object a line with
`--log-json` (ts, level, logger, message, and the record's extra fields), and never a secret
in either: every message, argument and extra field passes through `agent.redact`.

`configure` sets up the root logger once per command (again replaces, never stacks).
`console(json_lines)` is the rich Console a command prints its progress on: the usual one
on stderr, or with `--log-json` one whose every line becomes a log record of
`quorum.progress`, so the JSON stream on stderr carries the progress too and nothing else."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agent.redact import redact

PROGRESS = "quorum.progress"
OURS = ("quorum", "agent", "sandbox", "selection", "envs")  # our packages log at INFO
_MARK = "_quorum_handler"  # our handler, found again by a later configure
# What every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class _Redact(logging.Filter):
    """Formats the message once, redacted; extra fields redacted in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _clean(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in line:
                line[key] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class _Stream(logging.StreamHandler):
    """A stream handler; without a stream, whatever sys.stderr is when it writes (a test
    runner swaps it), not the one it was when configured."""

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass  # logging.StreamHandler.__init__ sets it; the property decides


def configure(json_lines: bool, stream: IO[str] | None = None) -> None:
    """Root logging for a command: our packages' INFO and up, other libraries' WARNING and
    up, to `stream` (default stderr), as JSON lines
    or (a terminal) rich's handler, else plain `LEVEL logger: message` lines."""
    handler: logging.Handler
    if json_lines:
        handler = _Stream(stream)
        handler.setFormatter(JsonFormatter())
    elif (stream or sys.stderr).isatty():
        out = Console(file=stream) if stream else Console(stderr=True)
        handler = RichHandler(console=out, show_path=False, markup=False)
    else:
        handler = _Stream(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries' INFO (httpx: every request) stays out
    for name in OURS:
        logging.getLogger(name).setLevel(logging.INFO)


class _LinesToLog(io.TextIOBase):
    """A text stream whose every complete line is logged (an `error: ` line, and the
    `  hint: ` line under it, as errors)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self.pending = logger, ""
        self.level = logging.INFO

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                hint = line.startswith("  hint: ") and self.level == logging.ERROR
                self.level = logging.ERROR if line.startswith("error: ") or hint else logging.INFO
                self.logger.log(self.level, line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.logger.info(self.pending.rstrip())
        self.pending = ""


def console(json_lines: bool) -> Console:
    """The Console a command prints its progress on (see the module's docstring)."""
    if not json_lines:
        return Console(stderr=True, highlight=False, soft_wrap=True)
    return Console(file=_LinesToLog(logging.getLogger(PROGRESS)), highlight=False,
                   soft_wrap=True, no_color=True, force_terminal=False,
                   width=100_000)  # fmt: skip


def setup(json_lines: bool) -> Console:
    """`configure` then `console`: what a command calls first."""
    configure(json_lines)
    return console(json_lines)


def _columns() -> tuple[Any, ...]:
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())  # fmt: skip


@contextmanager
def progress_bar(console: Console, total: int, what: str) -> Iterator[Callable[[int], None]]:
    """A bar of `total` items with the time spent and left, on a terminal only (a pipe, CI
    or --log-json keep their one line per item); yields `done(count)`, which moves it.
    Lines printed on the console meanwhile scroll above the bar."""
    if not console.is_terminal or total <= 0:
        yield lambda count: None
        return
    with Progress(*_columns(), console=console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda count: bar.update(task, completed=count)

