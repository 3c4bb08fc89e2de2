"""The tool set the agent gets."""

from __future__ import annotations

from agent.tools.base import Tool
from agent.tools.bash import BashTool
from agent.tools.config import ToolConfig
from agent.tools.edit import EditTool
from agent.tools.search import SearchTool
from agent.tools.submit import SubmitTool
from agent.tools.view import ViewTool


def default_tools(config: ToolConfig | None = None) -> list[Tool]:
    """bash, view, edit, search, submit, in the order the model sees them."""
    config = config or ToolConfig()
    return [BashTool(config), ViewTool(config), EditTool(config), SearchTool(config),
            SubmitTool(config)]
