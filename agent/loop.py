"""The agent loop: ask the model for one action, run it in the sandbox, show the result;
until the model submits or a limit ends the trajectory. Parallelism, budgets and
verification wrap this loop; they do not live in it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent import history, prompts
from agent.exits import (
    BudgetStop,
    FormatLimit,
    StepLimit,
    Submitted,
    TimeLimit,
    TrajectoryExit,
)
from agent.llm.actions import Action, FormatError, protocol_for
from agent.llm.client import LLMClient
from agent.llm.errors import BudgetExhausted
from agent.tools import Submitted as SubmitSignal
from agent.tools import Tool, ToolError
from agent.trajectory import Step, Trajectory, TrajectorySpec
from envs.candidate import Candidate
from envs.task import Task
from sandbox.protocol import Sandbox

StepHook = Callable[[Trajectory, Step], None]
REPEATED = (
    "\n\nNote: this is exactly the action of your previous step, with the same result. "
    "Repeating it changes nothing: do something different."
)


class AgentLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(30, gt=0)
    max_wall_s: float = Field(1800, gt=0)
    max_format_errors: int = Field(3, gt=0, description="consecutive malformed replies")
    max_output_tokens: int = Field(2048, gt=0)
    observation_chars: int = Field(8000, gt=200)
    context_window: int = Field(32768, gt=1024, description="when the model config has none")


async def run_trajectory(
    spec: TrajectorySpec,
    task: Task,
    sandbox: Sandbox,
    client: LLMClient,
    tools: Sequence[Tool],
    *,
    limits: AgentLimits,
    repo_summary: str,
    out_dir: Path,
    previous: Sequence[Candidate] = (),
    on_step: StepHook | None = None,
) -> Trajectory:
    """Runs one trajectory to its end; never raises for a model or tool failure — the
    exit record says how it ended. The record is saved after every step."""
    traj = Trajectory(spec=spec, started_at=time.time())
    by_name = {tool.spec.name: tool for tool in tools}
    specs = [tool.spec for tool in tools]
    protocol = protocol_for(client.config.supports_tools)
    system = prompts.system_prompt(spec.role, protocol.system_prompt(specs))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompts.task_message(task, repo_summary)},
        {"role": "user", "content": prompts.variant_message(spec.prompt_variant, previous)},
    ]
    window = client.config.context_window or limits.context_window
    deadline = time.monotonic() + limits.max_wall_s
    bad_replies = 0
    with traj.recording(out_dir):
        for index in range(1, limits.max_steps + 1):
            if time.monotonic() > deadline:
                raise TimeLimit(f"wall time over {limits.max_wall_s:.0f}s", step=index)
            history.condense(messages, int(window * 0.7) - limits.max_output_tokens)
            step, bad_replies, end = await _one_step(
                index,
                spec,
                client,
                protocol,
                specs,
                by_name,
                sandbox,
                messages,
                limits,
                bad_replies,
                traj.steps[-1] if traj.steps else None,
                deadline,
            )
            _record(traj, step, out_dir, on_step)
            if end is not None:
                raise end
        raise StepLimit(f"no submission after {limits.max_steps} steps", step=limits.max_steps)
    return traj


async def _one_step(
    index: int,
    spec: TrajectorySpec,
    client: LLMClient,
    protocol,
    specs,
    by_name: dict[str, Tool],
    sandbox: Sandbox,
    messages: list[dict[str, Any]],
    limits: AgentLimits,
    bad_replies: int,
    last: Step | None,
    deadline: float,
) -> tuple[Step, int, TrajectoryExit | None]:
    """One model call and one action. A step that ends the trajectory is returned with
    its exit, so the caller records it before ending. The wall limit also bounds the model
    call: a server asking for long Retry-After pauses cannot keep it waiting past it."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(max(0.0, deadline - started)) as wall:
            completion = await client.complete(
                messages,
                caller=spec.role,
                trajectory_id=spec.id,
                tools=protocol.request_tools(specs),
                temperature=spec.temperature,
                max_tokens=limits.max_output_tokens,
            )
    except BudgetExhausted as exc:
        raise BudgetStop(str(exc), step=index) from exc
    except TimeoutError as exc:
        if not wall.expired():
            raise
        raise TimeLimit(
            f"wall time over {limits.max_wall_s:.0f}s (waiting for the model)", step=index
        ) from exc
    messages.append(completion.message or {"role": "assistant", "content": completion.text})
    step = Step(index=index, cost_usd=completion.cost_usd, tokens=completion.usage.total_tokens)
    try:
        action = protocol.parse(completion, specs)
    except FormatError as exc:
        bad_replies += 1
        step.format_error = str(exc)
        step.thought = completion.text or ""
        _answer_format_error(messages, completion, str(exc))
        step.duration_s = time.monotonic() - started
        end = None
        if bad_replies >= limits.max_format_errors:
            end = FormatLimit(f"{bad_replies} malformed replies in a row: {exc}", step=index)
        return step, bad_replies, end
    step.thought, step.tool, step.args = action.thought, action.tool, action.args
    observation, end = await _run_tool(by_name[action.tool], sandbox, action, index)
    step.observation = history.truncate(observation, limits.observation_chars)
    if last and (last.tool, last.args, last.observation.removesuffix(REPEATED)) == (
        step.tool,
        step.args,
        step.observation,
    ):
        step.observation += REPEATED  # small models loop on one action; say so plainly
    messages.append(protocol.observation(action, step.observation))
    step.duration_s = time.monotonic() - started
    return step, 0, end


async def _run_tool(
    tool: Tool, sandbox: Sandbox, action: Action, index: int
) -> tuple[str, TrajectoryExit | None]:
    try:
        return await asyncio.to_thread(tool.run, sandbox, action.args), None
    except SubmitSignal as signal:
        summary = getattr(signal, "summary", "") or "submitted"
        return summary, Submitted(summary, step=index)
    except ToolError as exc:
        return f"error: {exc}", None


def _answer_format_error(messages: list[dict[str, Any]], completion, error: str) -> None:
    text = f"Your reply could not be used: {error}"
    if completion.tool_calls:  # every tool call id must be answered, even a rejected one
        for call in completion.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
    else:
        messages.append({"role": "user", "content": text})


def _record(traj: Trajectory, step: Step, out_dir: Path, on_step: StepHook | None) -> None:
    traj.steps.append(step)
    traj.cost_usd += step.cost_usd
    traj.tokens += step.tokens
    traj.save(out_dir)
    if on_step:
        on_step(traj, step)
