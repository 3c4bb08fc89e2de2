"""The selection agent (CodeMonkeys' selection state machine, Trae Agent's selector): a
model shown the top few candidates may write tests that tell them apart, sees how each
test does on the original code and on every candidate, and then names its choice with a
reason. Its verdict is one more signal for the hybrid selector; its tests join the evidence.

It lives in selection/ and speaks a small text protocol of its own (no agent.tools: this
package may import only agent.llm), one model call per turn, every call in the ledger:

    TEST
    ```python
    <a pytest file>
    ```
or
    CHOICE: <letter>
    REASON: <one paragraph>

Candidates are shown by letter, never by id or source, so the name of the system that
wrote a patch cannot sway the choice."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import LLMClient
from envs.candidate import Candidate, ReproTest
from sandbox.protocol import Sandbox
from selection.matrix import ORIGINAL, build_matrix

SYSTEM = (
    "You choose the best of several candidate patches for a GitHub issue. You may first "
    "write pytest tests that tell the candidates apart; each test is run on the original "
    "code and on every candidate, and you see the results. A good test fails on the "
    "original code and passes only with a correct fix. Reply with exactly one of:\n"
    "TEST\n```python\n<a complete pytest file>\n```\n"
    "or\nCHOICE: <letter>\nREASON: <why this candidate, citing the test results>"
)
_CODE = re.compile(r"```(?:python)?\n(.*?)```", re.S)
_CHOICE = re.compile(r"CHOICE:\s*\(?([A-Z])\)?", re.I)
_REASON = re.compile(r"REASON:\s*(.+)", re.S | re.I)


class AgentVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: str | None = Field(None, description="candidate id; None without a valid answer")
    reason: str = ""
    tests: list[ReproTest] = Field(default_factory=list)
    results: dict[str, dict[str, bool]] = Field(
        default_factory=dict, description="test id -> candidate id (or original) -> passed"
    )
    turns: int = 0


def letters(candidates: Sequence[Candidate]) -> dict[str, str]:
    return {chr(ord("A") + i): c.id for i, c in enumerate(candidates)}


def _intro(issue: str, candidates: Sequence[Candidate]) -> str:
    parts = [f"<issue>\n{issue.strip()}\n</issue>"]
    for letter, cand in zip(letters(candidates), candidates, strict=True):
        parts.append(f"<candidate {letter}>\n{cand.patch.strip()}\n</candidate {letter}>")
    return "\n\n".join(parts)


def _table(test: ReproTest, by_letter: dict[str, str], cells: dict[str, bool]) -> str:
    row = ", ".join(
        f"{name}: {'pass' if cells.get(cid) else 'FAIL'}"
        for name, cid in [("original", ORIGINAL), *by_letter.items()]
    )
    return f"Results of {test.path}: {row}"


async def run_selection_agent(
    issue: str,
    candidates: Sequence[Candidate],
    client: LLMClient,
    start_sandbox: Callable[[], Sandbox],
    *,
    max_tests: int = 3,
    test_timeout_s: float = 120,
    trajectory_id: str = "selection-agent",
) -> AgentVerdict:
    by_letter = letters(candidates)
    messages: list[dict[str, str]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _intro(issue, candidates)},
    ]
    verdict = AgentVerdict()
    reminded = False
    while verdict.turns < max_tests + 2:
        verdict.turns += 1
        done = await client.complete(messages, caller="selection_agent",
                                     trajectory_id=trajectory_id, temperature=0.0)  # fmt: skip
        text = done.text or ""
        messages.append({"role": "assistant", "content": text})
        choice = _CHOICE.search(text)
        if choice and choice.group(1).upper() in by_letter:
            verdict.choice = by_letter[choice.group(1).upper()]
            reason = _REASON.search(text)
            verdict.reason = (reason.group(1) if reason else text).strip()
            return verdict
        code = _CODE.search(text)
        if code and "TEST" in text.upper() and len(verdict.tests) < max_tests:
            n = len(verdict.tests) + 1
            path = f"test_quorum_select_{n}.py"
            test = ReproTest.make(path=path, content=code.group(1), kind="pytest",
                                  command=f"python -m pytest -q {path}",
                                  origin=trajectory_id)  # fmt: skip
            matrix = await build_matrix(candidates, [test], start_sandbox,
                                        test_timeout_s=test_timeout_s)  # fmt: skip
            cells = {cid: matrix.passed(cid, test.id) for cid in matrix.candidate_ids}
            verdict.tests.append(test)
            verdict.results[test.id] = cells
            left = max_tests - len(verdict.tests)
            note = f" You may write {left} more test(s)." if left else " Now choose."
            messages.append({"role": "user", "content": _table(test, by_letter, cells) + note})
            continue
        if reminded:
            break
        reminded = True
        messages.append({"role": "user", "content": "Reply with a TEST block or with "
                         f"CHOICE: <one of {', '.join(by_letter)}> and REASON: ..."})  # fmt: skip
    verdict.reason = "the selection agent gave no valid choice"
    return verdict
