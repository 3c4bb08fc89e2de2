"""`bash`: exit codes, both streams, hard timeouts, truncation, bad arguments."""

from __future__ import annotations

import time

import pytest

from agent.tools import ToolConfig, ToolError
from tests.agent.tools.conftest import Call, caller


def test_shows_exit_code_and_both_streams(call: Call) -> None:
    out = call("bash", command="echo hello; echo oops >&2; exit 3")
    assert out == "exit code: 3\n--- stdout ---\nhello\n--- stderr ---\noops"


def test_runs_in_the_repository_root(call: Call) -> None:
    assert "pkg" in call("bash", command="ls").split()
    assert call("bash", command="true") == "exit code: 0\n(no output)"


def test_timeout_kills_the_command_and_says_so(call: Call) -> None:
    start = time.monotonic()
    out = call("bash", command="echo started; sleep 30", timeout=1)
    assert time.monotonic() - start < 10
    assert out.startswith("TIMED OUT: the command was killed after 1 s")
    assert "started" in out


def test_timeout_above_the_maximum_is_capped(sandbox) -> None:
    call = caller(sandbox, ToolConfig(bash_timeout_s=1))
    start = time.monotonic()
    out = call("bash", command="sleep 30", timeout=600)
    assert time.monotonic() - start < 10
    assert out.startswith("(timeout 600 s is above the maximum; used 1 s)\nTIMED OUT")


def test_default_timeout_is_the_configured_one(sandbox) -> None:
    out = caller(sandbox, ToolConfig(bash_timeout_s=1))("bash", command="sleep 30")
    assert "TIMED OUT" in out and "after 1 s" in out


def test_long_output_keeps_head_and_tail_around_a_marker(sandbox) -> None:
    call = caller(sandbox, ToolConfig(max_observation_chars=1000))
    out = call("bash", command="seq 1 20000")
    assert len(out) < 1200
    assert out.startswith("exit code: 0\n--- stdout ---\n1\n2\n")
    assert out.endswith("\n19999\n20000")
    assert "characters" in out and "truncated by quorum" in out


@pytest.mark.parametrize(("args", "message"), [
    ({}, "`bash` needs the argument `command`"),
    ({"command": "   "}, "argument `command` of `bash` must not be empty"),
    ({"command": 5}, "argument `command` of `bash` must be a string, got int"),
    ({"command": "ls", "timeout": 0}, "`timeout` must be a positive number"),
    ({"command": "ls", "timeout": "soon"}, "must be an integer, got 'soon'"),
    ({"command": "ls", "timeout": True}, "must be an integer, got True"),
])
def test_bad_arguments_are_tool_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message.replace("(", r"\(")):
        call("bash", **args)


def test_a_numeric_string_timeout_is_accepted(call: Call) -> None:
    assert call("bash", command="echo ok", timeout="5").endswith("ok")
