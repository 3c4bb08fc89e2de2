"""A tool the model may call, described once and rendered for either action protocol."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names
    description: str
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments object",
    )

    def openai_schema(self) -> dict[str, Any]:
        """The `tools=[...]` entry of a chat completion request."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}

    def text_instructions(self) -> str:
        """How the text protocol presents the tool: name, purpose, arguments."""
        props: dict[str, Any] = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        lines = [f"### {self.name}", self.description.strip()]
        if props:
            lines.append("Arguments:")
            for arg, schema in props.items():
                kind = schema.get("type", "any")
                need = "required" if arg in required else "optional"
                desc = schema.get("description", "")
                lines.append(f"- `{arg}` ({kind}, {need}){': ' + desc if desc else ''}")
        else:
            lines.append("Arguments: none (use {}).")
        example = {a: f"<{s.get('type', 'value')}>" for a, s in props.items() if a in required}
        lines.append(f"Example args: {json.dumps(example)}")
        return "\n".join(lines)
