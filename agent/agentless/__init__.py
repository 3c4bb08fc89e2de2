"""The agentless solver: a fixed pipeline (localise, reproduce, repair) for small models
that lose their way in free-form tool use. Its trajectories and candidates have the same
shape as the agent's, so rollouts, the run directory, resume and selection treat both alike."""

from agent.agentless.config import AgentlessConfig
from agent.agentless.pipeline import run_agentless

__all__ = ["AgentlessConfig", "run_agentless"]
