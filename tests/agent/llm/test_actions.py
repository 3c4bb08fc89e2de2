"""The two action protocols: native tool calls and fenced text actions."""

from __future__ import annotations

import pytest

from agent.llm import (
    Completion,
    FormatError,
    NativeToolProtocol,
    TextActionProtocol,
    ToolCall,
    ToolSpec,
    Usage,
    parse_text_action,
    protocol_for,
)

BASH = ToolSpec(name="bash", description="Run a shell command.", parameters={
    "type": "object",
    "properties": {"command": {"type": "string", "description": "the command"},
                   "timeout": {"type": "integer"}},
    "required": ["command"], "additionalProperties": False})
SUBMIT = ToolSpec(name="submit", description="Finish.")
TOOLS = [BASH, SUBMIT]


def completion(text: str | None = None, calls: list[ToolCall] | None = None) -> Completion:
    return Completion(model="m", text=text, tool_calls=calls or [], usage=Usage(),
                      latency_s=0.0, cost_usd=0.0, max_tokens=10)


def test_toolspec_renders_for_both_protocols():
    schema = BASH.openai_schema()
    assert schema == {"type": "function", "function": {
        "name": "bash", "description": "Run a shell command.", "parameters": BASH.parameters}}
    text = BASH.text_instructions()
    assert "### bash" in text and "`command` (string, required): the command" in text
    assert "`timeout` (integer, optional)" in text
    assert "Arguments: none" in SUBMIT.text_instructions()
    with pytest.raises(ValueError):
        ToolSpec(name="has space", description="x")


def test_protocol_for_picks_by_capability():
    assert isinstance(protocol_for(True), NativeToolProtocol)
    assert isinstance(protocol_for(False), TextActionProtocol)


# -- native -------------------------------------------------------------------------------
def test_native_parses_one_call():
    proto = NativeToolProtocol()
    assert proto.request_tools(TOOLS) == TOOLS and proto.system_prompt(TOOLS) == ""
    act = proto.parse(completion("Listing.", [ToolCall(id="c1", name="bash",
                                                       arguments='{"command": "ls"}')]), TOOLS)
    assert (act.tool, act.args, act.call_id, act.thought) == ("bash", {"command": "ls"}, "c1",
                                                             "Listing.")
    assert proto.observation(act, "a.py") == {"role": "tool", "tool_call_id": "c1",
                                              "content": "a.py"}


@pytest.mark.parametrize("calls,message", [
    ([], "no tool call in the reply"),
    ([ToolCall(id="1", name="bash", arguments="{}"), ToolCall(id="2", name="submit",
                                                              arguments="{}")],
     "2 tool calls in one reply (bash, submit)"),
    ([ToolCall(id="1", name="rm", arguments="{}")], "unknown tool `rm`; available: bash, submit"),
    ([ToolCall(id="1", name="bash", arguments='{"command": "ls"')],
     "arguments of `bash` are not valid JSON: Expecting ',' delimiter at line 1 column 17"),
    ([ToolCall(id="1", name="bash", arguments="{}")],
     "`bash` is missing required argument(s): command"),
    ([ToolCall(id="1", name="bash", arguments='{"command": 3}')],
     "argument `command` of `bash` must be string, got int"),
    ([ToolCall(id="1", name="bash", arguments='{"command": "ls", "cwd": "/"}')],
     "`bash` has no argument(s) cwd; it takes command, timeout"),
    ([ToolCall(id="1", name="bash", arguments='{"command": "ls", "timeout": true}')],
     "argument `timeout` of `bash` must be integer, got bool"),
    ([ToolCall(id="1", name="bash", arguments='["ls"]')],
     "arguments of `bash` must be a JSON object, got list"),
])
def test_native_format_errors_are_precise(calls, message):
    with pytest.raises(FormatError) as info:
        NativeToolProtocol().parse(completion("", calls), TOOLS)
    assert str(info.value).startswith(message)


# -- text ---------------------------------------------------------------------------------
def test_text_protocol_prompt_lists_tools_and_format():
    prompt = TextActionProtocol().system_prompt(TOOLS)
    assert "```action" in prompt and "### bash" in prompt and "### submit" in prompt
    assert TextActionProtocol().request_tools(TOOLS) is None


def test_text_parses_one_block():
    reply = ('I should look around.\n```action\n{"tool": "bash", "args": {"command": "ls -la"}}'
             '\n```\n')
    act = TextActionProtocol().parse(completion(reply), TOOLS)
    assert (act.tool, act.args, act.thought) == ("bash", {"command": "ls -la"},
                                                 "I should look around.")
    obs = TextActionProtocol().observation(act, "x")
    assert obs == {"role": "user", "content": "Output of `bash`:\nx"}


def test_text_tolerates_longer_fences_args_default_and_trailing_text():
    reply = '````action\n{"tool": "submit"}\n````\nOutput: (hallucinated)'
    act = parse_text_action(reply, TOOLS)
    assert (act.tool, act.args) == ("submit", {})


def test_text_block_with_backticks_inside_json():
    reply = '```action\n{"tool": "bash", "args": {"command": "echo \\"```\\""}}\n```'
    assert parse_text_action(reply, TOOLS).args == {"command": 'echo "```"'}


@pytest.mark.parametrize("reply,message", [
    ("I think we are done.", "no action block found"),
    ('```json\n{"tool": "submit"}\n```', "no action block found"),
    ('```action\n{"tool": "submit"}\n', "the ```action block is never closed"),
    ('```action\n{"tool": "submit"}\n```\n```action\n{"tool": "submit"}\n```',
     "2 action blocks found: give exactly one action per reply"),
    ('```action\n{"tool": "bash", "args": {"command": "ls"}\n```',
     "the action block is not valid JSON: Expecting ',' delimiter at line 1 column 43"),
    ('```action\n["bash"]\n```', "the action block must hold a JSON object, got list"),
    ('```action\n{"name": "bash"}\n```', "unexpected key(s) name in the action"),
    ('```action\n{"args": {}}\n```', 'the action has no "tool" name'),
    ('```action\n{"tool": "ls"}\n```', "unknown tool `ls`; available: bash, submit"),
    ('```action\n{"tool": "bash", "args": {}}\n```',
     "`bash` is missing required argument(s): command"),
])
def test_text_format_errors_are_precise(reply, message):
    with pytest.raises(FormatError) as info:
        parse_text_action(reply, TOOLS)
    assert str(info.value).startswith(message)
    assert info.value.reply == reply
