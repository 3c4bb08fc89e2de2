"""The tool set as the loop sees it: specs for both action protocols, an action parsed from
a model's reply run end to end, and robustness against arguments a model gets wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.llm.actions import NativeToolProtocol, TextActionProtocol, parse_text_action
from agent.llm.types import Completion, ToolCall, Usage
from agent.tools import Submitted, Tool, ToolConfig, ToolError, default_tools
from sandbox.protocol import Sandbox

TOOLS = default_tools()
SPECS = [t.spec for t in TOOLS]


def by_name(name: str) -> Tool:
    return next(t for t in TOOLS if t.spec.name == name)


def test_the_default_tool_set() -> None:
    assert [s.name for s in SPECS] == ["bash", "view", "edit", "search", "submit"]
    assert all(isinstance(t, Tool) for t in TOOLS)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.spec.name)
def test_each_spec_renders_for_both_protocols(tool: Tool) -> None:
    schema = tool.spec.openai_schema()
    assert schema["function"]["name"] == tool.spec.name
    assert schema["function"]["parameters"]["additionalProperties"] is False
    text = tool.spec.text_instructions()
    assert text.startswith(f"### {tool.spec.name}\n")
    for arg in tool.spec.parameters["properties"]:
        assert f"`{arg}`" in text


def test_config_reaches_the_specs() -> None:
    bash = default_tools(ToolConfig(bash_timeout_s=30))[0]
    assert "killed after 30 seconds" in bash.spec.description
    assert "at most 30" in bash.spec.parameters["properties"]["timeout"]["description"]


def test_config_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ToolConfig(bash_timeout=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ToolConfig(max_observation_chars=10)


def test_a_text_protocol_reply_runs_end_to_end(sandbox: Sandbox) -> None:
    assert "### search" in TextActionProtocol().system_prompt(SPECS)
    reply = ('Let me fix the sign.\n```action\n{"tool": "edit", "args": {"command": '
             '"str_replace", "path": "pkg/calc.py", "old_str": "a - b", "new_str": "a + b"}}\n```')
    action = parse_text_action(reply, SPECS)
    out = by_name(action.tool).run(sandbox, action.args)
    assert out.startswith("Edited pkg/calc.py.")


def test_a_native_tool_call_runs_end_to_end(sandbox: Sandbox) -> None:
    completion = Completion(
        model="m", text=None, usage=Usage(prompt_tokens=1, completion_tokens=1),
        latency_s=0.1, cost_usd=0.0, max_tokens=100,
        tool_calls=[ToolCall(id="c1", name="submit", arguments='{"summary": "none"}')])
    action = NativeToolProtocol().parse(completion, SPECS)
    with pytest.raises(ToolError, match="nothing to submit"):
        by_name(action.tool).run(sandbox, action.args)


# Values of every JSON type; a wrong one must come back as a ToolError, never a crash.
JUNK = [None, 3, -1, True, "", "x", ["a"], {"a": 1}]
BASES = [
    ("bash", {"command": "true", "timeout": 5}),
    ("view", {"path": "pkg/calc.py", "start_line": 1, "end_line": 2}),
    ("edit", {"command": "str_replace", "path": "pkg/calc.py", "old_str": "a - b",
              "new_str": "a + b"}),
    ("edit", {"command": "insert", "path": "pkg/calc.py", "insert_line": 1, "new_str": "#"}),
    ("edit", {"command": "create", "path": "new.py", "file_text": "", "overwrite": False}),
    ("search", {"command": "grep", "pattern": "x", "path": "pkg", "ignore_case": False}),
    ("search", {"command": "outline", "path": "pkg/calc.py"}),
    ("search", {"command": "symbol", "name": "add"}),
    ("submit", {"summary": "s"}),
]


@pytest.mark.parametrize(("tool", "base"), BASES, ids=lambda v: v if isinstance(v, str) else "")
def test_wrong_arguments_never_crash_a_tool(tool: str, base: dict, sandbox: Sandbox) -> None:
    for bad_args in ([], "args", None):
        with pytest.raises(ToolError):
            by_name(tool).run(sandbox, bad_args)  # type: ignore[arg-type]
    for arg in base:
        for junk in JUNK:
            try:
                by_name(tool).run(sandbox, {**base, arg: junk})
            except (ToolError, Submitted):
                pass  # what a model may see; anything else fails the test
            finally:
                sandbox.exec("git checkout -q -- . && git clean -fdq", timeout=30)
