"""`bash`: one shell command in the repository, killed at a hard timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.llm.toolspec import ToolSpec
from agent.tools import args as a
from agent.tools.base import ToolError
from agent.tools.config import ToolConfig
from agent.tools.text import truncate
from sandbox.protocol import Sandbox
from sandbox.result import ExecResult


class BashTool:
    def __init__(self, config: ToolConfig) -> None:
        self.config = config
        self.spec = ToolSpec(
            name="bash",
            description=(
                "Run a bash command in the repository root and see its exit code and output. "
                "Each call is a fresh shell: `cd` and variables do not carry over, so chain "
                "with `&&`. No input can be typed: use non-interactive flags. "
                f"The command is killed after {config.bash_timeout_s:g} seconds."),
            parameters={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "the command to run"},
                    "timeout": {"type": "integer", "description": (
                        f"seconds before it is killed (at most {config.bash_timeout_s:g})")},
                },
                "required": ["command"],
                "additionalProperties": False,
            },
        )

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        command = a.string(args, "command", "bash", required=True, nonempty=True)
        assert command is not None
        cap = self.config.bash_timeout_s
        asked = a.integer(args, "timeout", "bash")
        if asked is not None and asked <= 0:
            raise ToolError(f"`timeout` must be a positive number of seconds (at most {cap:g})")
        timeout = min(asked, cap) if asked is not None else cap
        result = sandbox.exec(command, timeout=timeout)
        note = (f"(timeout {asked} s is above the maximum; used {cap:g} s)\n"
                if asked is not None and asked > cap else "")
        return note + truncate(render(result, timeout), self.config.max_observation_chars)


def render(result: ExecResult, timeout: float) -> str:
    if result.timed_out:
        head = (f"TIMED OUT: the command was killed after {timeout:g} s (exit code "
                f"{result.exit_code}). Narrow it (one test file, `-x`, a smaller input) "
                "or pass a larger `timeout` if the maximum allows.")
    else:
        head = f"exit code: {result.exit_code}"
    parts = [head]
    if result.stdout:
        parts.append(f"--- stdout ---\n{result.stdout.rstrip(chr(10))}")
    if result.stderr:
        parts.append(f"--- stderr ---\n{result.stderr.rstrip(chr(10))}")
    if not result.stdout and not result.stderr:
        parts.append("(no output)")
    if result.truncated:
        parts.append("[the sandbox dropped part of this output: it exceeded its size limit]")
    return "\n".join(parts)
