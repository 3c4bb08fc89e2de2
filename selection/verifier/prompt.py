"""The verifier's prompt, R2E-Gym style, laid out so that the part shared by every
candidate of a task (instructions, then the issue) comes first: a server with prefix
caching, or the in-process scorer, computes it once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

SYSTEM = (
    "You are an expert judge of software patches. You are given a GitHub issue, a condensed "
    "record of how an AI assistant worked on it, and the final patch. Decide whether the "
    "patch correctly resolves the issue: it fixes the described behaviour, does not break "
    "other behaviour, and would pass the project's hidden tests for this issue. "
    "Answer with exactly one word: YES or NO."
)
MAX_ISSUE, MAX_TRAJ, MAX_PATCH = 6000, 6000, 8000  # characters; the patch matters most


class VerifierItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_id: str
    issue: str
    patch: str
    trajectory: str = ""


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def verifier_messages(item: VerifierItem) -> list[dict[str, str]]:
    head = f"<issue>\n{clip(item.issue.strip(), MAX_ISSUE)}\n</issue>\n\n"
    traj = clip(item.trajectory.strip(), MAX_TRAJ) if item.trajectory.strip() else "(none)"
    body = (
        f"<trajectory>\n{traj}\n</trajectory>\n\n"
        f"<patch>\n{clip(item.patch.strip(), MAX_PATCH)}\n</patch>\n\n"
        "Does this patch resolve the issue? Answer YES or NO."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": head + body}]


def condense_trajectory(data: Mapping[str, Any], max_steps: int = 30, obs_chars: int = 300) -> str:
    """A trajectory JSON (trajectories/<id>.json) as one line per step: the action and the
    start of what it saw. The thoughts are left out: they argue for the patch, and a judge
    should weigh evidence, not the author's confidence."""
    lines = []
    for step in list(data.get("steps") or [])[-max_steps:]:
        args = step.get("args") or {}
        what = args.get("command") or args.get("path") or ""
        obs = " ".join(str(step.get("observation") or "").split())[:obs_chars]
        lines.append(
            f"[{step.get('index', '?')}] {step.get('tool') or 'invalid'} {what} -> {obs}".rstrip()
        )
    exit_ = data.get("exit") or {}
    if exit_:
        lines.append(f"exit: {exit_.get('status', exit_)}")
    return "\n".join(lines)
