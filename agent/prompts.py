"""Prompts. Laid out so all N trajectories of a task share one long prefix (system prompt,
issue, repository summary) and differ only at the end, where a prompt server's prefix
cache can reuse the shared part."""

from __future__ import annotations

from collections.abc import Sequence

from envs.candidate import Candidate
from envs.task import Task

REPRO_TEST_PATH = "test_repro_issue.py"
REPRO_TEST_COMMAND = f"python -m pytest -q -p no:cacheprovider {REPRO_TEST_PATH}"

SYSTEM = f"""You are an expert software engineer fixing an issue in a repository that is \
checked out in your working directory. Work in small steps: explore the code, reproduce the \
problem, fix its root cause with a minimal change, and check the fix.

Rules:
- Write a reproduction test: a pytest file `{REPRO_TEST_PATH}` at the repository root that \
FAILS on the original code because of the issue and PASSES once it is fixed. Run it before \
your fix (it must fail) and after (it must pass): `{REPRO_TEST_COMMAND}`.
- Change the source code, not the existing tests. Keep the change as small as the fix allows.
- When the fix is done and your test passes, call `submit`."""

TEST_WRITER_SYSTEM = f"""You are an expert software engineer writing a test for an issue in \
a repository that is checked out in your working directory. Do NOT fix the issue.

Write a pytest file `{REPRO_TEST_PATH}` at the repository root that FAILS on the current code \
because of the issue (not because of a typo or an import error) and would PASS once the \
issue is fixed. Run it with `{REPRO_TEST_COMMAND}` and read the failure to check it fails for \
the right reason. Then call `submit`."""

VARIANTS: dict[str, str] = {
    "default": "Start by finding the code the issue is about.",
    "test_first": "Write and run the reproduction test first, then look for the cause.",
    "root_cause": (
        "The place where the symptom shows is often not where the bug is: trace the data "
        "back to where it goes wrong before you edit."
    ),
    "explore": "Read the modules involved and how they call each other before you change any.",
}


def system_prompt(role: str, protocol_text: str) -> str:
    base = TEST_WRITER_SYSTEM if role == "test_writer" else SYSTEM
    return f"{base}\n\n{protocol_text}".strip()


def task_message(task: Task, repo_summary: str) -> str:
    hints = f"\n\n<hints>\n{task.hints.strip()}\n</hints>" if task.hints.strip() else ""
    return (
        f"<issue>\n{task.problem_statement.strip()}\n</issue>{hints}\n\n"
        f"<repository>\n{repo_summary.strip()}\n</repository>"
    )


def variant_message(variant: str, previous: Sequence[Candidate] = ()) -> str:
    parts = [VARIANTS.get(variant, VARIANTS["default"])]
    if previous:
        parts.append(_previous_round(previous))
    return "\n\n".join(parts)


def _previous_round(previous: Sequence[Candidate]) -> str:
    """Evolutionary refinement: show the best candidates of the last round and how their
    tests behaved, so this trajectory can build on them or avoid their mistakes."""
    lines = [
        "Earlier attempts at this issue, with how their tests behaved. Learn from them; "
        "they may be wrong. Make your own fix in the repository (it starts unchanged)."
    ]
    for i, cand in enumerate(previous, 1):
        pooled = cand.scores.get("pooled_tests_passed")
        evidence = []
        if cand.test_on_original and cand.test_on_patched:
            evidence.append(
                f"its own test {'failed' if not cand.test_on_original.passed else 'passed'} "
                f"before and {'passed' if cand.test_on_patched.passed else 'failed'} after"
            )
        if pooled is not None:
            evidence.append(f"it passed {pooled:g} of the pooled reproduction tests")
        lines.append(
            f"\n<attempt {i}> ({'; '.join(evidence) or 'no test evidence'})\n"
            f"{cand.patch.strip() or '(empty patch)'}\n</attempt {i}>"
        )
    return "\n".join(lines)
