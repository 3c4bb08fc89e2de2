"""Build the instance records of the bundled projects from their files, checked by running
their tests: FAIL_TO_PASS and PASS_TO_PASS are what fails without the gold patch and passes
with it. Run `python -m envs.bundled_records` after editing a project; tests/envs checks the
records are current."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envs.bundled import (
    EXAMPLES_DIR,
    HIDDEN_TEST_PATH,
    bundled_projects,
    hidden_dir,
    materialize_project,
    new_file_diff,
)
from envs.errors import DatasetError
from envs.gitcmd import git
from envs.instances import Instance, write_instances

_RESULT_RE = re.compile(r"^(PASSED|FAILED|ERROR|XPASS|XFAIL) (.+?)(?: - .*)?$", re.MULTILINE)


def apply_patch(repo: Path, patch: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=False) as f:
        f.write(patch)
    try:
        git("apply", "--whitespace=nowarn", f.name, cwd=repo)
    finally:
        os.unlink(f.name)


def pytest_statuses(repo: Path, test_ids: list[str] | None = None, *,
                    timeout: float = 300) -> dict[str, str]:
    """Run pytest (this interpreter) in `repo` and map each reported test id to PASSED,
    FAILED, ERROR, XPASS or XFAIL, from the `-rA` summary (ids must not contain " - ").
    Asked-for ids that pytest never reported map to MISSING."""
    # The projects need pytest alone; other installed plugins only slow the start (seconds).
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
           *(test_ids or [])]
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    found = {test_id: status for status, test_id in _RESULT_RE.findall(proc.stdout)}
    return {**{i: "MISSING" for i in test_ids or []}, **found}


def build_instance(project: Path, instance_id: str, repo: str) -> Instance:
    """The grading record of one bundled project, checked by running its tests."""
    hidden = hidden_dir(project)
    test_patch = new_file_diff(HIDDEN_TEST_PATH, (hidden / "test_hidden.py").read_text())
    gold = (hidden / "gold.patch").read_text()
    with tempfile.TemporaryDirectory(prefix="quorum-bundled-") as tmp:
        work = Path(tmp) / project.name
        sha = materialize_project(project, work)
        own = pytest_statuses(work)
        if not own or any(s != "PASSED" for s in own.values()):
            raise DatasetError(f"{project}: its own tests must pass on the buggy code: {own}")
        apply_patch(work, test_patch)
        before = pytest_statuses(work)
        apply_patch(work, gold)
        after = pytest_statuses(work)
    broken = sorted(i for i, s in after.items() if s != "PASSED")
    if broken:
        raise DatasetError(f"{project}: tests fail with the gold patch: {broken}")
    f2p = sorted(i for i in after if before.get(i) != "PASSED")
    if not f2p:
        raise DatasetError(f"{project}: no hidden test fails on the buggy code")
    return Instance(
        instance_id=instance_id, repo=repo, base_commit=sha, patch=gold, test_patch=test_patch,
        problem_statement=(project / "ISSUE.md").read_text().strip() + "\n", version="1.0",
        FAIL_TO_PASS=f2p, PASS_TO_PASS=sorted(i for i in after if i not in f2p),
    )


def rebuild(examples_dir: Path = EXAMPLES_DIR) -> None:
    """Rewrite every record under examples/ from the project files: each example's
    NAME.hidden/task.json, and examples/tasks/instances.jsonl for the micro-tasks."""
    examples = bundled_projects(examples_dir)
    tasks_dir = examples_dir / "tasks"
    micro = bundled_projects(tasks_dir)
    jobs = [(p, f"quorum__{p.name}-1", f"../{p.name}") for p in examples]
    jobs += [(p, f"micro__{p.name}-1", f"./{p.name}") for p in micro]
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        records = list(pool.map(lambda job: build_instance(*job), jobs))
    for project, record in zip(examples, records, strict=False):
        text = json.dumps(record.record(), indent=2) + "\n"
        (hidden_dir(project) / "task.json").write_text(text, encoding="utf-8")
    write_instances(records[len(examples):], tasks_dir / "instances.jsonl")


if __name__ == "__main__":
    rebuild()
