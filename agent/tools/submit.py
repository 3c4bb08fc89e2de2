"""`submit`: the model says it is done. Ends the trajectory by raising `Submitted`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.llm.toolspec import ToolSpec
from agent.tools import args as a
from agent.tools.base import Submitted, ToolError
from agent.tools.config import ToolConfig
from sandbox.protocol import Sandbox


class SubmitTool:
    def __init__(self, config: ToolConfig) -> None:
        self.config = config
        self.spec = ToolSpec(
            name="submit",
            description=(
                "Finish: submit the current state of the repository as your solution. Call "
                "it once your fix is in place and your reproduction test passes; nothing can "
                "be changed afterwards."),
            parameters={
                "type": "object",
                "properties": {
                    "summary": {"type": "string",
                                "description": "one or two sentences on what you changed"},
                },
                "required": [],
                "additionalProperties": False,
            },
        )

    def run(self, sandbox: Sandbox, args: Mapping[str, Any]) -> str:
        summary = a.string(args, "summary", "submit", default="") or ""
        patch = sandbox.diff()
        if self.config.submit_requires_changes and not patch.strip():
            raise ToolError("nothing to submit: the repository has no changes yet. Make your "
                            "edits first, then call submit")
        raise Submitted(summary=summary.strip(), patch=patch)
