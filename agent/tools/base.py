"""What every tool is: a spec the model reads, and a `run` that turns arguments into an
observation. Also the two signals a tool sends back to the loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from agent.llm.toolspec import ToolSpec
from sandbox.errors import QuorumError
from sandbox.protocol import Sandbox


class ToolError(QuorumError):
    """The model called a tool wrongly (bad arguments, missing file, no match...). The
    message is written for the model: the loop shows it as the observation and goes on."""


class Submitted(QuorumError):
    """The model called `submit`: the trajectory ends. Carries the exit record's facts."""

    def __init__(self, summary: str, patch: str) -> None:
        super().__init__("the agent submitted its work")
        self.summary = summary
        self.patch = patch


@runtime_checkable
class Tool(Protocol):
    """A tool the loop can offer and run. `run` returns the observation text, raises
    `ToolError` for a misuse the model should read, or `Submitted` to end the trajectory;
    any other error is a failure of the machinery, not of the model."""

    @property
    def spec(self) -> ToolSpec: ...

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str: ...
