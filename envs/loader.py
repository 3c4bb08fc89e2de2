"""The one reader of the files Quorum is given or keeps: JSON, JSON lines, TOML and YAML,
validated on load into pydantic models (or by a parse function).

Every problem is one `LoadError`, shown as `FILE:LINE: what is wrong` (pydantic's errors
shortened to `field: message`). A file loads whole or not at all, with two explicit
exceptions the caller asks for:

- `skip_invalid=True` (the CLI's `--skip-invalid`): invalid records are left out and listed
  in `Loaded.skipped`, for the caller to count and name;
- `tolerate_truncated_tail=True`, for the JSON-lines files Quorum appends to itself (a run's
  candidates.jsonl, bench.jsonl): a last line cut short by a crash mid-write (not valid
  JSON, and no newline after it) is left out and reported in `Loaded.truncated`; a bad line
  anywhere else is still an error. `drop_truncated_tail` cuts it from the file before the
  next append, so that the next record starts on a line of its own.

Record files (`load_records`) are JSON lines, a JSON array, or one JSON object (or, with
`keyed_by`, an object whose values are the records, keyed by id). Documents
(`load_document`) are one JSON, TOML or YAML file, e.g. a models file or an App's
`.github/quorum.yml`; a validation error points at the line of the offending field where
the format tells lines.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from envs.errors import LoadError

T = TypeVar("T")
Parse = type[BaseModel] | Callable[[Any], Any]

DOCUMENT_FORMATS = {".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}
_MAX_PROBLEMS = 5


@dataclass
class Loaded(Generic[T]):
    """What a record file held: the records (with the line each starts on), the invalid ones
    left out under `skip_invalid`, and the line of a truncated tail that was tolerated."""

    path: Path
    records: list[T] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    skipped: list[LoadError] = field(default_factory=list)
    truncated: int | None = None

    def notes(self) -> list[str]:
        """One line for each record left out, naming file and line: for the user's eyes."""
        out = [f"skipped {err}" for err in self.skipped]
        if self.truncated is not None:
            out.append(
                f"{self.path}:{self.truncated}: left out a truncated last line "
                "(cut short by a crash mid-write)"
            )
        return out


def describe(
    exc: ValidationError, label: Callable[[tuple[int | str, ...]], str] | None = None
) -> str:
    """pydantic's errors as `field: message` parts, the way a person would say them;
    `label(loc)` names a field (the CLI writes an option's flag), by default `a.b.0`."""
    parts: list[str] = []
    for err in exc.errors(include_url=False):
        loc = label(err["loc"]) if label else ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        given = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden") and _short_scalar(given):
            msg += f" (got {json.dumps(given)})"
        part = f"{loc}: {msg}" if loc else msg
        if part not in parts:
            parts.append(part)
    more = len(parts) - _MAX_PROBLEMS
    return "; ".join(parts[:_MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")


def read_text(path: Path | str, *, what: str = "file", error: type[LoadError] = LoadError) -> str:
    path = Path(path).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"the {what} is not UTF-8 text ({exc.reason})", path=path) from exc
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", path=path) from exc


def load_records(
    path: Path | str,
    parse: Parse,
    *,
    what: str = "file",
    error: type[LoadError] = LoadError,
    skip_invalid: bool = False,
    tolerate_truncated_tail: bool = False,
    name_field: str | None = None,
    keyed_by: str | None = None,
    unique: Callable[[Any], str] | None = None,
) -> Loaded[Any]:
    """Every record of a JSON-lines or JSON file, each validated by `parse` (a pydantic model
    class, or a function that raises ValueError). `name_field` names a record in messages;
    `unique(record)` is a key no two records may share; `keyed_by`: a JSON object without
    this field is a mapping of records (e.g. predictions keyed by instance id)."""
    path = Path(path).expanduser()
    text = read_text(path, what=what, error=error)
    loaded: Loaded[Any] = Loaded(path=path)
    if not text.strip():
        return loaded
    entries = _entries(text, path, keyed_by, error)
    if (
        tolerate_truncated_tail
        and entries
        and entries[-1][2] is not None
        and not text.endswith("\n")
    ):
        loaded.truncated = entries.pop()[0]
    first_seen: dict[str, int | None] = {}
    for line, raw, bad_json in entries:
        name = raw.get(name_field) if name_field and isinstance(raw, dict) else None
        name = name if isinstance(name, str) else None
        key: str | None = None
        try:
            if bad_json is not None:
                raise ValueError(bad_json)
            record = validate(parse, raw, container="a JSON object")
            key = unique(record) if unique else None
            if key is not None and key in first_seen:
                seen = first_seen[key]
                raise ValueError(f"{key} appears twice" + (f" (first on line {seen})"
                                                           if seen is not None else ""))
        except ValueError as exc:
            problem = describe(exc) if isinstance(exc, ValidationError) else str(exc)
            err = error(problem, path=path, line=line, record=name)
            if not skip_invalid:
                raise err from exc
            loaded.skipped.append(err)
            continue
        if key is not None:
            first_seen[key] = line
        loaded.records.append(record)
        loaded.lines.append(line)
    return loaded


def load_document(
    path: Path | str,
    parse: Parse,
    *,
    what: str = "file",
    error: type[LoadError] = LoadError,
    fmt: str | None = None,
) -> Any:
    """One JSON, TOML or YAML document (by suffix, or `fmt`), validated by `parse`."""
    path = Path(path).expanduser()
    fmt = fmt or DOCUMENT_FORMATS.get(path.suffix.lower())
    if fmt not in ("json", "toml", "yaml"):
        raise error(f"the {what} must be .json, .toml, .yaml or .yml", path=path)
    text = read_text(path, what=what, error=error)
    data = _parse_document(text, fmt, path, what, error)
    try:
        return validate(parse, data, container="a table" if fmt == "toml" else "an object")
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"] if exc.errors() else ()
        line = _locate(fmt, text, loc)
        raise error(describe(exc), path=path, line=line) from exc
    except ValueError as exc:
        raise error(str(exc), path=path) from exc


def load_json(path: Path | str, *, what: str = "file", error: type[LoadError] = LoadError) -> Any:
    """A JSON document as it is (no schema): the caller checks what it uses."""
    return load_document(path, lambda raw: raw, what=what, error=error, fmt="json")


def validate(parse: Parse, raw: Any, *, container: str = "an object") -> Any:
    """`parse(raw)`; a pydantic model class validates a mapping (anything else is a plain
    "expected an object", not pydantic's "valid dictionary or instance of Model")."""
    if isinstance(parse, type) and issubclass(parse, BaseModel):
        if not isinstance(raw, dict):
            raise ValueError(f"expected {container}, got {_kind(raw)}")
        return parse.model_validate(raw)
    return parse(raw)


def drop_truncated_tail(loaded: Loaded[Any]) -> None:
    """Cut the tolerated truncated last line from the file, so that the next append starts
    a line of its own (it would otherwise glue onto the half line, and both be lost)."""
    if loaded.truncated is None:
        return
    data = loaded.path.read_bytes()
    keep = data.rfind(b"\n") + 1
    with loaded.path.open("r+b") as f:
        f.truncate(keep)


# --- JSON ------------------------------------------------------------------------------


def _entries(
    text: str, path: Path, keyed_by: str | None, error: type[LoadError]
) -> list[tuple[int | None, Any, str | None]]:
    """(line, raw record, JSON problem or None) for every record in the text."""
    if path.suffix.lower() != ".jsonl":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":  # JSON lines otherwise: one value, then more
                raise error(_json_problem(exc), path=path,
                            line=exc.lineno) from exc  # fmt: skip
        else:
            lines = _LineIndex(text)
            start = _skip_ws(text, 0)
            if isinstance(whole, list) or (
                isinstance(whole, dict) and keyed_by is not None and keyed_by not in whole
            ):
                return [(lines.of(pos), value, None) for _k, pos, value in _members(text, start)]
            return [(lines.of(start), whole, None)]
    out: list[tuple[int | None, Any, str | None]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((lineno, json.loads(line), None))
        except json.JSONDecodeError as exc:
            out.append((lineno, None, _json_problem(exc)))
    return out


class _LineIndex:
    def __init__(self, text: str) -> None:
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def of(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


_DECODER = json.JSONDecoder()


def _members(text: str, pos: int) -> Iterator[tuple[str | int, int, Any]]:
    """(key or index, start offset, value) of each member of the valid JSON object or array
    that starts at `pos`; nothing for a scalar."""
    if pos >= len(text) or text[pos] not in "[{":
        return
    is_object = text[pos] == "{"
    pos = _skip_ws(text, pos + 1)
    index = 0
    while pos < len(text) and text[pos] not in "]}":
        key: str | int = index
        if is_object:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the ':'
        value, end = _DECODER.raw_decode(text, pos)
        yield key, pos, value
        index += 1
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)


def _json_line(text: str, loc: Sequence[str | int]) -> int:
    """The line of the value at `loc` (or of the deepest container found on the way)."""
    pos = _skip_ws(text, 0)
    for part in loc:
        found = next((p for k, p, _v in _members(text, pos) if str(k) == str(part)), None)
        if found is None:
            break
        pos = found
    return _LineIndex(text).of(pos)


# --- documents: parse errors and field locations ----------------------------------------


def _parse_document(
    text: str, fmt: str, path: Path, what: str, error: type[LoadError]
) -> Any:
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(_json_problem(exc), path=path,
                        line=exc.lineno) from exc  # fmt: skip
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg, line = _toml_error(str(exc), text)
            raise error(f"not valid TOML ({msg})", path=path, line=line) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise error(f"not valid YAML ({problem})", path=path, line=line) from exc


def _toml_error(message: str, text: str) -> tuple[str, int | None]:
    """tomllib says where in its message: "... (at line 3, column 7)" or "(at end of
    document)"; Python 3.11's error has no lineno attribute."""
    found = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
    if found:
        return message[: found.start()], int(found.group(1))
    if message.endswith("(at end of document)"):
        return message.removesuffix("(at end of document)").strip(), len(text.splitlines())
    return message, None


def _locate(fmt: str, text: str, loc: Sequence[str | int]) -> int | None:
    try:
        if fmt == "json":
            return _json_line(text, loc)
        if fmt == "toml":
            return _toml_line(text, loc)
        return _yaml_line(text, loc)
    except Exception:  # locating is a courtesy; the message stands without a line
        return None


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def _toml_keys(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


def _toml_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of the key at `loc`: its table's header `[a.b]`, then `key =` inside it;
    the header's line when the key is missing. Best effort (no inline-table paths)."""
    lines = text.splitlines()
    keys = [str(k) for k in loc if not isinstance(k, int)]
    headers = [
        (i, _toml_keys(m.group(1))) for i, line in enumerate(lines)
        if (m := _TOML_HEADER.match(line))
    ]  # fmt: skip
    for n in range(len(keys), -1, -1):
        if n:
            at = next((i for i, parts in headers if parts == keys[:n]), None)
            if at is None and n == len(keys):  # `[model.x]` where `model` is unknown
                at = next((i for i, parts in headers if parts[:n] == keys), None)
                if at is not None:
                    return at + 1
            if at is None:
                continue
            start = at + 1
        else:
            at, start = None, 0
        end = next((i for i, _p in headers if i >= start), len(lines))
        rest = keys[n:]
        if not rest:
            return at + 1 if at is not None else None
        for j in range(start, end):
            key, sep, _value = lines[j].partition("=")
            if sep and _toml_keys(key)[: len(rest)] in (rest, rest[:1]):
                return j + 1
        return at + 1 if at is not None else None
    return None


def _yaml_line(text: str, loc: Sequence[str | int]) -> int | None:
    node = yaml.compose(text)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is None:
            break
        node = found
    return node.start_mark.line + 1 if node is not None else None


def _json_problem(exc: json.JSONDecodeError) -> str:
    at = "" if exc.msg.endswith(" at") else " at"
    return f"not valid JSON ({exc.msg}{at} column {exc.colno})"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short_scalar(value: Any) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return True
    return isinstance(value, str) and len(value) <= 40 and "\n" not in value
