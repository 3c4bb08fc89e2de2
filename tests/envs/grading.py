"""Grade a bundled instance the way the official harness does, on the host: test patch,
then FAIL_TO_PASS must fail; gold patch, then FAIL_TO_PASS and PASS_TO_PASS must pass."""

from __future__ import annotations

from pathlib import Path

from envs.bundled_records import apply_patch, pytest_statuses
from envs.instances import Instance


def grade_gold(inst: Instance, repo: Path) -> list[str]:
    """Problems found (empty: the instance is sound). `repo` is its materialised repository."""
    # Files in name order, as a full run collects them: a bug that leaks state between tests
    # (a mutable default argument) must not fail PASS_TO_PASS tests that run after it.
    ids = sorted(inst.fail_to_pass + inst.pass_to_pass)
    problems = []
    apply_patch(repo, inst.test_patch)
    before = pytest_statuses(repo, ids)
    problems += [f"{inst.instance_id}: {i} passes without the fix"
                 for i in inst.fail_to_pass if before[i] == "PASSED"]
    problems += [f"{inst.instance_id}: {i} is {before[i]} without the fix"
                 for i in inst.pass_to_pass if before[i] != "PASSED"]
    apply_patch(repo, inst.patch)
    after = pytest_statuses(repo, ids)
    problems += [f"{inst.instance_id}: {i} is {s} with the fix"
                 for i, s in after.items() if s != "PASSED"]
    return problems
