"""The agent's tools: bash, view, edit, search and submit.

Each tool is defined once: `tool.spec` is an `agent.llm.toolspec.ToolSpec`, which the
action protocols render as an OpenAI tool schema or as text-protocol instructions, and
`tool.run(sandbox, args) -> str` does the work through the `sandbox.protocol.Sandbox`
protocol only, so the same code serves a local directory and a Docker container.

The contract with the agent loop:

- `run` returns the observation text, already truncated to
  `ToolConfig.max_observation_chars` (head and tail kept around a marker).
- `ToolError` means the model misused the tool (bad or missing arguments, a missing file,
  an ambiguous `old_str`...). Its message is written for the model: show it as the
  observation and go on; it is not a failure of the run.
- `Submitted` (raised by `submit`) ends the trajectory. It carries `summary` (the
  model's words) and `patch` (`sandbox.diff()` when it submitted). Catch it in the one
  place where terminal states are caught.
- Anything else (`SandboxClosed`, `EngineUnavailable`...) is the machinery failing, not
  the model, and should end the trajectory as an error.

A command that outlives its timeout is killed by the sandbox and reported as TIMED OUT in
the observation; it is not an exception.
"""

from agent.tools.base import Submitted, Tool, ToolError
from agent.tools.config import ToolConfig
from agent.tools.registry import default_tools

__all__ = ["Submitted", "Tool", "ToolConfig", "ToolError", "default_tools"]
