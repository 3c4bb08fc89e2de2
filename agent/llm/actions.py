"""Two action protocols behind one interface: native tool calls, and a text protocol for
models without tool calling. The agent loop speaks only `ActionProtocol`; which one a model
gets follows `ModelConfig.supports_tools`.

The text protocol: the reply ends with exactly one fenced block whose info string is
`action`, holding a JSON object with the tool's name and its arguments:

    I will list the files first.
    ```action
    {"tool": "bash", "args": {"command": "ls"}}
    ```

Anything before the block is the model's reasoning (kept as `Action.thought`); anything
after it (a hallucinated tool output, say) is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.toolspec import ToolSpec
from agent.llm.types import Completion
from sandbox.errors import QuorumError


class FormatError(QuorumError):
    """The model's reply is not one valid action. The message is written for the model:
    the agent loop may show it back as the observation, or end the trajectory after a few.
    Carries the offending `reply`."""

    def __init__(self, message: str, *, reply: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.reply = reply


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    thought: str = ""
    call_id: str | None = None  # native tool calls: the id the observation must answer


class ActionProtocol(Protocol):
    """How tools are offered to a model and how its reply becomes one Action."""

    def system_prompt(self, tools: Sequence[ToolSpec]) -> str:
        """Text to add to the system prompt ("" for native tool calls)."""
        ...

    def request_tools(self, tools: Sequence[ToolSpec]) -> list[ToolSpec] | None:
        """The `tools` to pass to `LLMClient.complete` (None for the text protocol)."""
        ...

    def parse(self, completion: Completion, tools: Sequence[ToolSpec]) -> Action: ...

    def observation(self, action: Action, output: str) -> dict[str, Any]:
        """The message that carries a tool's output back to the model."""
        ...


# -- argument checking shared by both protocols ------------------------------------------------
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}


def check_args(spec: ToolSpec, args: Any, reply: str | None) -> dict[str, Any]:
    """A small schema check (object, required, declared types, no extras when the schema
    forbids them), enough to give the model a precise error instead of a tool crash."""
    if not isinstance(args, dict):
        raise FormatError(f"arguments of `{spec.name}` must be a JSON object, got "
                          f"{type(args).__name__}", reply=reply)
    schema = spec.parameters
    props: dict[str, Any] = schema.get("properties", {})
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        raise FormatError(f"`{spec.name}` is missing required argument(s): "
                          f"{', '.join(missing)}", reply=reply)
    if schema.get("additionalProperties") is False:
        extra = [k for k in args if k not in props]
        if extra:
            raise FormatError(f"`{spec.name}` has no argument(s) {', '.join(extra)}; it takes "
                              f"{', '.join(props) or 'none'}", reply=reply)
    for key, value in args.items():
        declared = props.get(key, {}).get("type")
        kinds = [declared] if isinstance(declared, str) else (declared or [])
        allowed = tuple(t for k in kinds for t in _JSON_TYPES.get(k, ()))
        bad_bool = isinstance(value, bool) and bool not in allowed
        if allowed and (not isinstance(value, allowed) or bad_bool):
            raise FormatError(f"argument `{key}` of `{spec.name}` must be "
                              f"{' or '.join(kinds)}, got {type(value).__name__}", reply=reply)
    return args


def _find(tools: Sequence[ToolSpec], name: str, reply: str | None) -> ToolSpec:
    for t in tools:
        if t.name == name:
            return t
    raise FormatError(f"unknown tool `{name}`; available: {', '.join(t.name for t in tools)}",
                      reply=reply)


# -- native tool calls ----------------------------------------------------------------------
class NativeToolProtocol:
    """The model calls tools through the API's `tool_calls`; one call per step."""

    def system_prompt(self, tools: Sequence[ToolSpec]) -> str:
        return ""

    def request_tools(self, tools: Sequence[ToolSpec]) -> list[ToolSpec] | None:
        return list(tools)

    def parse(self, completion: Completion, tools: Sequence[ToolSpec]) -> Action:
        text = completion.text or ""
        calls = completion.tool_calls
        if not calls:
            raise FormatError("no tool call in the reply: call exactly one tool each step",
                              reply=text)
        if len(calls) > 1:
            names = ", ".join(c.name for c in calls)
            raise FormatError(f"{len(calls)} tool calls in one reply ({names}): call exactly "
                              "one tool each step", reply=text)
        call = calls[0]
        spec = _find(tools, call.name, text)
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as e:
            raise FormatError(f"arguments of `{call.name}` are not valid JSON: {e.msg} at line "
                              f"{e.lineno} column {e.colno}", reply=call.arguments) from e
        return Action(tool=spec.name, args=check_args(spec, args, call.arguments),
                      thought=text.strip(), call_id=call.id)

    def observation(self, action: Action, output: str) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": action.call_id or "", "content": output}


# -- the text protocol ----------------------------------------------------------------------
# A fence of 3+ backticks, info string "action", body, the same fence closing.
_BLOCK = re.compile(r"^(?P<fence>`{3,})[ \t]*action[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.M | re.S)
_OPEN = re.compile(r"^`{3,}[ \t]*action[ \t]*$", re.M)


class TextActionProtocol:
    """One fenced ```action block per reply, holding {"tool": ..., "args": {...}}."""

    def system_prompt(self, tools: Sequence[ToolSpec]) -> str:
        specs = "\n\n".join(t.text_instructions() for t in tools)
        return (
            "You act by calling tools. End every reply with exactly one action block, a "
            "fenced code block tagged `action` holding a JSON object with the tool's name and "
            "its arguments, and nothing after it:\n\n"
            '```action\n{"tool": "<name>", "args": {<arguments>}}\n```\n\n'
            f"Write your reasoning before the block. The tools:\n\n{specs}"
        )

    def request_tools(self, tools: Sequence[ToolSpec]) -> list[ToolSpec] | None:
        return None

    def parse(self, completion: Completion, tools: Sequence[ToolSpec]) -> Action:
        return parse_text_action(completion.text or "", tools)

    def observation(self, action: Action, output: str) -> dict[str, Any]:
        return {"role": "user", "content": f"Output of `{action.tool}`:\n{output}"}


def parse_text_action(reply: str, tools: Sequence[ToolSpec]) -> Action:
    """The one action in a text-protocol reply, or a FormatError saying what is wrong."""
    blocks = list(_BLOCK.finditer(reply))
    if not blocks:
        if _OPEN.search(reply):
            raise FormatError("the ```action block is never closed: end it with ``` on its "
                              "own line", reply=reply)
        raise FormatError('no action block found: end your reply with ```action\n'
                          '{"tool": "<name>", "args": {...}}\n```', reply=reply)
    if len(blocks) > 1:
        raise FormatError(f"{len(blocks)} action blocks found: give exactly one action per "
                          "reply", reply=reply)
    block = blocks[0]
    body = block.group("body").strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise FormatError(f"the action block is not valid JSON: {e.msg} at line {e.lineno} "
                          f"column {e.colno}", reply=reply) from e
    if not isinstance(data, dict):
        raise FormatError(f"the action block must hold a JSON object, got "
                          f"{type(data).__name__}", reply=reply)
    unknown = set(data) - {"tool", "args"}
    if unknown:
        raise FormatError(f"unexpected key(s) {', '.join(sorted(unknown))} in the action: use "
                          'only "tool" and "args"', reply=reply)
    name = data.get("tool")
    if not isinstance(name, str) or not name:
        raise FormatError('the action has no "tool" name (a string)', reply=reply)
    spec = _find(tools, name, reply)
    args = check_args(spec, data.get("args", {}), reply)
    return Action(tool=spec.name, args=args, thought=reply[: block.start()].strip())


def protocol_for(supports_tools: bool) -> ActionProtocol:
    return NativeToolProtocol() if supports_tools else TextActionProtocol()
