"""The embedded model end to end on the bundled example, small N: whatever the model does,
the record must be complete and consistent and the budget honoured."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from envs.examples import DEMO, materialize_example
from quorum.commands.demo import EXAMPLE_SETUP
from quorum.models import EMBEDDED, endpoints_for
from quorum.solve import SolveOptions, solve

pytestmark = [pytest.mark.embedded, pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]
TOKEN_CAP = 40_000


def test_a_small_run_leaves_a_whole_record(tmp_path: Path, embedded_cache: Path) -> None:
    task = materialize_example(DEMO, tmp_path / "repo").model_copy(update={"setup": EXAMPLE_SETUP})
    options = SolveOptions(
        rollout=RolloutConfig(  # the agent loop's record, explicitly (auto: agentless)
            n=2, concurrency=2, limits=AgentLimits(max_steps=3, max_output_tokens=384),
            solver="agent",
        ),
        budget_tokens=TOKEN_CAP,
    )
    run = tmp_path / "run"
    with endpoints_for([EMBEDDED], os.environ, cache_dir=embedded_cache) as endpoints:
        outcome = asyncio.run(solve(task, endpoints, options, run))

    assert outcome.cost.total.total_tokens <= TOKEN_CAP  # the budget is a hard cap
    assert outcome.cost.total.calls >= 2  # the model was really asked
    ids = {c.id for c in outcome.candidates}
    assert ids == {"r0-t0", "r0-t1"}
    for cand in outcome.candidates:
        traj = json.loads((run / "trajectories" / f"{cand.id}.json").read_text())
        assert traj["exit"]["status"] == cand.exit_status  # every trajectory ended, on record
        # whatever the model wrote, no trajectory may end in an exception (a bug of ours, a
        # sandbox or model-server failure): "crashed" is the only exit that means that
        assert cand.exit_status != "crashed", traj["exit"]["reason"]
        if cand.test is not None:  # a test it wrote was run on the original code
            assert cand.test_on_original is not None
    matrix = json.loads((run / "matrix.json").read_text())
    assert {c.id for c in outcome.candidates if c.patch.strip()} <= set(matrix["candidate_ids"])
    selection = json.loads((run / "selection.json").read_text())
    assert selection["rationale"]
    assert selection["chosen"] is None or selection["chosen"] in ids
    assert (run / "patch.diff").read_text() == outcome.patch
    lines = (run / "candidates.jsonl").read_text().splitlines()
    assert {json.loads(line)["id"] for line in lines} == ids
    assert "Outcome" in (run / "report.md").read_text()
