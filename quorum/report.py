"""The human-readable report of a run: what was tried, what the tests said, what was
chosen (or why nothing was), and what it cost."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.llm import LedgerReport
from envs.candidate import Candidate
from envs.task import Task
from selection.matrix import PassMatrix
from selection.result import Selection


def render_report(
    task: Task,
    selection: Selection,
    candidates: Sequence[Candidate],
    matrix: PassMatrix,
    cost: LedgerReport,
) -> str:
    valid = set(matrix.valid_tests())
    lines = [
        f"# Quorum run: {task.id}",
        "",
        f"**Outcome:** {_outcome(selection)}",
        "",
        selection.rationale,
        "",
        "## Candidates",
        "",
        "| id | solver | exit | steps | own test (before → after) | pooled tests passed | "
        "cost $ | chosen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cand in candidates:
        passed = sum(matrix.passed(cand.id, t) for t in valid) if cand.patch.strip() else None
        lines.append(
            f"| {cand.id} | {cand.solver} | {cand.exit_status} | {cand.steps} | "
            f"{_own_test(cand)} | "
            f"{'—' if passed is None else f'{passed}/{len(valid)}'} | {cand.cost_usd:.4f} | "
            f"{'✓' if cand.id == selection.chosen else ''} |"
        )
    lines += [
        "",
        "## Tests",
        "",
        f"{len(matrix.test_ids)} generated test(s); {len(valid)} fail on the original code "
        "and count as evidence"
        + (
            f"; {len(matrix.test_ids) - len(valid)} pass there and are ignored."
            if len(valid) < len(matrix.test_ids)
            else "."
        ),
    ]
    if matrix.patch_errors:
        lines.append(f"Patches that did not apply: {', '.join(sorted(matrix.patch_errors))}.")
    total = cost.total
    lines += [
        "",
        "## Cost",
        "",
        f"${total.usd:.4f} for {total.total_tokens} tokens "
        f"({total.prompt_tokens} prompt, {total.cached_tokens} cached, "
        f"{total.completion_tokens} output) in {total.calls} calls"
        + (f"; cap ${cost.caps.run_usd:g}" if cost.caps.run_usd is not None else "")
        + (f"; {cost.refusals} call(s) refused by the budget" if cost.refusals else "")
        + ".",
        "",
    ]
    for caller, spend in sorted(cost.by_caller.items()):
        lines.append(f"- {caller}: ${spend.usd:.4f}, {spend.total_tokens} tokens")
    return "\n".join(lines) + "\n"


def write_report(
    task: Task,
    selection: Selection,
    candidates: Sequence[Candidate],
    matrix: PassMatrix,
    cost: LedgerReport,
    path: Path,
) -> None:
    path.write_text(render_report(task, selection, candidates, matrix, cost))


def _outcome(selection: Selection) -> str:
    if selection.abstained:
        return "abstained — no patch is proposed"
    return f"selected {selection.chosen} (confidence {selection.confidence:.2f})"


def _own_test(cand: Candidate) -> str:
    if cand.test is None:
        return "none written"

    def word(outcome) -> str:
        return "—" if outcome is None else ("pass" if outcome.passed else "fail")

    return f"{word(cand.test_on_original)} → {word(cand.test_on_patched)}"

