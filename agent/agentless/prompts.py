"""Prompts of the agentless pipeline: short, one job each, with a fixed answer format a
1.5B model can keep to. The issue and the repository map come first, so the calls of one
task share a prefix."""

from __future__ import annotations

from collections.abc import Sequence

from agent import prompts as agent_prompts
from envs.candidate import Candidate
from envs.task import Task

SYSTEM = "You are an expert software engineer. Answer exactly in the format asked for."

HINTS: dict[str, str] = {
    "default": "",
    "test_first": "Think about which input shows the bug before you change anything.",
    "root_cause": "Fix the root cause where the data first goes wrong, not the symptom.",
    "explore": "Check how the functions shown call each other before you change one.",
}


def _issue(task: Task) -> str:
    return f"<issue>\n{task.problem_statement.strip()}\n</issue>"


def localize(task: Task, repo_map: str, max_files: int) -> str:
    return (
        f"{_issue(task)}\n\n<repository_map>\n{repo_map}\n</repository_map>\n\n"
        f"Which files must be edited to fix the issue? List at most {max_files} file paths "
        "from the map, one per line, most likely first, and nothing else."
    )


def narrow(task: Task, outlines: str) -> str:
    return (
        f"{_issue(task)}\n\n<files>\n{outlines}\n</files>\n\n"
        "Which functions or classes must change to fix the issue? List them one per line "
        "as path::name (for a method, path::Class.method), most likely first, and nothing else."
    )


def code_context(snippets: Sequence[tuple[str, str]]) -> str:
    return "\n\n".join(f"### {label}\n```\n{code.rstrip()}\n```" for label, code in snippets)


def reproduce(task: Task, context: str, feedback: str = "", imports: str = "") -> str:
    again = ""
    if feedback:
        again = f"\n\nYour previous test did not work:\n{feedback}\nWrite a better one."
    where = (
        f"Import what you use from these modules:\n```python\n{imports}\n```\n"
        if imports else "Import from the modules shown (by their path from the repository root). "
    )  # fmt: skip
    return (
        f"{_issue(task)}\n\n<code>\n{context}\n</code>\n\n"
        f"Write a pytest file `{agent_prompts.REPRO_TEST_PATH}` for the repository root that "
        "FAILS on the code above because of the issue and PASSES once the issue is fixed. "
        f"{where}Keep it short: one test function, on the example the issue gives if it "
        "gives one. Do not fix the bug. Answer with the whole file in one ```python block."
        f"{again}"
    )


# The SEARCH/REPLACE format's example. A small model often pastes it back as its answer
# (29 of 80 first repair replies in the small-model run): `copies_example` spots that.
EXAMPLE_PATH = "mathutils.py"
EXAMPLE_SEARCH = "    return x / 3"
EXAMPLE_REPLACE = "    return x / 2"
COPIED_EXAMPLE = (
    "Your reply repeated the example from the instructions (mathutils.py, `return x / 3`), "
    "which is not part of this repository. Edit the code shown above instead."
)


def copies_example(search: str, path: str | None, shown: str) -> bool:
    """A SEARCH/REPLACE block that is the format example, not an edit of this code (a
    repository that really has such a line or file is left alone)."""
    pasted = search.strip() == EXAMPLE_SEARCH.strip() or (path or "").strip() == EXAMPLE_PATH
    return pasted and search.strip() not in shown


def repair(
    task: Task,
    context: str,
    fmt: str,
    *,
    variant: str,
    target: str,
    previous: Sequence[Candidate] = (),
    correction: str = "",
) -> str:
    hint = HINTS.get(variant, "")
    earlier = ""
    if previous:
        shown = "\n\n".join(c.patch.strip() for c in previous if c.patch.strip())
        if shown:
            earlier = f"\n\nEarlier attempts (they may be wrong):\n```diff\n{shown}\n```"
    ask = {
        "search_replace": (
            "Fix the issue with SEARCH/REPLACE edits: the file path on its own line, then the "
            "exact lines to change from the code above and their replacement. For example, "
            f"to fix a function `half` in {EXAMPLE_PATH}:\n"
            f"{EXAMPLE_PATH}\n<<<<<<< SEARCH\n{EXAMPLE_SEARCH}\n=======\n"
            f"{EXAMPLE_REPLACE}\n>>>>>>> REPLACE\n"
            "Keep each SEARCH part short and unique. Answer with the edit blocks only; do not "
            "repeat the issue or the code."
        ),
        "function": (
            f"Fix the issue by rewriting {target}. Answer with the complete fixed "
            "definition(s), with the same names, in one ```python block."
        ),
        "file": (
            f"Fix the issue by rewriting the file {target}. Answer with the complete fixed "
            "file, every line of it, in one ```python block."
        ),
    }[fmt]
    return (
        f"{_issue(task)}\n\n<code>\n{context}\n</code>{earlier}\n\n"
        f"{hint + ' ' if hint else ''}{ask}{chr(10) * 2 + correction if correction else ''}"
    )
