"""Turning a finished trajectory into a candidate: its patch, its reproduction test, and
how that test behaves on the original code and with the patch."""

from __future__ import annotations

from collections.abc import Callable

from agent import prompts
from agent.trajectory import Trajectory
from envs.candidate import Candidate, ReproTest, TestOutcome
from envs.patch import split_by_file, without_files
from sandbox.errors import EngineUnavailable, QuorumError
from sandbox.protocol import Sandbox

TEST_TIMEOUT_S = 120


def run_test(sandbox: Sandbox, test: ReproTest, timeout: float = TEST_TIMEOUT_S) -> TestOutcome:
    result = sandbox.exec(test.command, timeout=timeout)
    return TestOutcome(
        passed=result.ok,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_s=result.duration_s,
        output_tail=result.output[-2000:],
    )


def build_candidate(
    traj: Trajectory, sandbox: Sandbox, start_original: Callable[[], Sandbox]
) -> Candidate:
    """Read the trajectory's work out of its sandbox. `start_original` gives a fresh sandbox
    of the unchanged repository, where the test must fail."""
    spec = traj.spec
    try:
        full = sandbox.diff()
    except EngineUnavailable:
        raise  # not an empty patch: the run stops and a rerun redoes this trajectory
    except QuorumError:
        full = ""
    test = _repro_test(full, sandbox, origin=spec.id)
    patch = "" if spec.role == "test_writer" else without_files(full, {prompts.REPRO_TEST_PATH})
    candidate = Candidate(
        id=spec.id,
        task_id=spec.task_id,
        patch=patch,
        solver=spec.solver if spec.role == "solver" else "test_writer",
        model=spec.model,
        round=spec.round,
        test=test,
        exit_status=traj.exit.status if traj.exit else "unfinished",
        steps=len(traj.steps),
        cost_usd=traj.cost_usd,
        tokens=traj.tokens,
    )
    if test is None:
        return candidate
    if patch:
        candidate.test_on_patched = run_test(sandbox, test)
    with start_original() as original:
        original.write_file(test.path, test.content)
        candidate.test_on_original = run_test(original, test)
    return candidate


def _repro_test(full_diff: str, sandbox: Sandbox, *, origin: str) -> ReproTest | None:
    if prompts.REPRO_TEST_PATH not in split_by_file(full_diff):
        return None
    content = sandbox.read_file(prompts.REPRO_TEST_PATH).decode("utf-8", errors="replace")
    return ReproTest.make(
        path=prompts.REPRO_TEST_PATH,
        content=content,
        command=prompts.REPRO_TEST_COMMAND,
        kind="pytest",
        origin=origin,
    )
