"""Reading a tool's arguments defensively. The action protocols already check the schema,
but tools are also called directly (tests, the selection agent), so each read re-checks
and turns a bad value into a `ToolError` the model can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.tools.base import ToolError

_MISSING = object()


def _get(args: Mapping[str, Any], key: str, tool: str, required: bool) -> Any:
    if not isinstance(args, Mapping):
        raise ToolError(f"arguments of `{tool}` must be a JSON object, got {type(args).__name__}")
    value = args.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ToolError(f"`{tool}` needs the argument `{key}`")
        return _MISSING
    return value


def string(args: Mapping[str, Any], key: str, tool: str, *, default: str | None = None,
           required: bool = False, nonempty: bool = False) -> str | None:
    value = _get(args, key, tool, required)
    if value is _MISSING:
        return default
    if not isinstance(value, str):
        raise ToolError(f"argument `{key}` of `{tool}` must be a string, "
                        f"got {type(value).__name__}")
    if nonempty and not value.strip():
        raise ToolError(f"argument `{key}` of `{tool}` must not be empty")
    return value


def integer(args: Mapping[str, Any], key: str, tool: str, *,
            default: int | None = None, required: bool = False) -> int | None:
    value = _get(args, key, tool, required)
    if value is _MISSING:
        return default
    # A model often writes "10" for 10; accept a string of digits, never a bool.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"argument `{key}` of `{tool}` must be an integer, got {value!r}")
    return value


def boolean(args: Mapping[str, Any], key: str, tool: str, *, default: bool = False) -> bool:
    value = _get(args, key, tool, False)
    if value is _MISSING:
        return default
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ToolError(f"argument `{key}` of `{tool}` must be true or false, got {value!r}")
    return value


def choice(args: Mapping[str, Any], key: str, tool: str, options: tuple[str, ...]) -> str:
    value = string(args, key, tool, required=True)
    if value not in options:
        raise ToolError(f"argument `{key}` of `{tool}` must be one of "
                        f"{', '.join(options)}; got {value!r}")
    return value
