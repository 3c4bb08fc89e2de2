"""A model server that answers one trajectory with nothing but 429s, 500s or garbage: that
trajectory ends with its reason recorded (exit status and message, in its record and its
candidate), the run's budget is never crossed, and the other trajectories go on to a
selected patch. Through `solve` with local sandboxes and the stand-in server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from agent.llm import ModelConfig
from agent.llm.prices import Price
from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from envs.sources.local import task_from_local
from quorum.solve import SolveOptions, solve
from tests.agent.scripted import solver_script
from tests.helpers.faults import Router
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

ISSUE = "add(1, 2) returns -1 instead of 3."
PRICE = Price(input=1.0, output=4.0)  # USD per million tokens: the caps are real
RUN_CAP, TRAJECTORY_CAP = 0.5, 0.05

# model -> (its script, calls it gets, exit status, what its reason says)
STORMS = {
    "good": (solver_script("add(1, 2) == 3", "a + b"), 5, "submitted", "add returns a + b"),
    "ratelimited": (
        [Reply.error(429, "Rate limit reached", retry_after=0, err_type="requests")],
        6, "crashed", "RateLimited",
    ),
    "failing": ([Reply.error(500, "internal error", retry_after=0)], 6, "crashed", "ServerError"),
    "garbage": ([Reply.malformed()], 1, "crashed", "BadResponse"),
    "proxy_page": (
        [Reply.malformed(b"<html><body><h1>502 Bad Gateway</h1></body></html>")],
        1, "crashed", "not a chat completion",
    ),
    "babble": ([Reply.text("I think the answer is 42.")] * 10, 3, "format_errors", "malformed"),
}  # fmt: skip


def _endpoints(server: OpenAIStandIn, names: list[str]):
    return [
        ModelConfig(name=n, base_url=server.base_url, api_key_env=None, prices=PRICE).resolve({})
        for n in names
    ]


@pytest.mark.slow
def test_storms_and_garbage_end_their_trajectory_not_the_run(tmp_path: Path) -> None:
    task = task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)
    names = list(STORMS)
    router = Router(lambda body: body["model"], {n: s[0] for n, s in STORMS.items()})
    options = SolveOptions(
        rollout=RolloutConfig(n=len(names), concurrency=len(names)),
        sandbox="local", budget_usd=RUN_CAP, budget_usd_per_trajectory=TRAJECTORY_CAP,
    )  # fmt: skip
    run = tmp_path / "run"
    with OpenAIStandIn() as server:
        server.responder = router
        outcome = asyncio.run(solve(task, _endpoints(server, names), options, run))

    assert router.calls == {n: s[1] for n, s in STORMS.items()}
    by_model = {c.model: c for c in outcome.candidates}
    for name, (_, _, status, reason) in STORMS.items():
        cand = by_model[name]
        record = json.loads((run / "trajectories" / f"{cand.id}.json").read_text())
        assert (record["exit"]["status"], cand.exit_status) == (status, status), name
        assert reason in record["exit"]["reason"], (name, record["exit"])
    stored = {json.loads(x)["model"]: json.loads(x) for x in (run / "candidates.jsonl").open()}
    assert stored["ratelimited"]["exit_status"] == "crashed"
    assert outcome.selection.chosen == by_model["good"].id
    assert "return a + b" in outcome.patch

    cost = outcome.cost
    assert 0 < cost.total.usd <= RUN_CAP
    assert all(spend.usd <= TRAJECTORY_CAP for spend in cost.by_trajectory.values())
    assert cost.lost_calls == 2  # the two garbage answers, charged at their worst case
    assert cost.refusals == 0 and cost.in_flight == 0
    assert json.loads((run / "cost.json").read_text())["total"]["usd"] == cost.total.usd


@pytest.mark.slow
def test_a_long_retry_after_storm_stops_at_the_trajectorys_wall_limit(tmp_path: Path) -> None:
    """The server asks for 60 s pauses between retries; the trajectory's wall limit (10 s)
    is a hard limit that ends it while it waits, rather than after five such pauses."""
    task = task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)
    router = Router(
        lambda body: body["model"],
        {"good": STORMS["good"][0], "slow": [Reply.error(429, "slow down", retry_after=60)]},
    )
    limits = AgentLimits(max_wall_s=10)
    options = SolveOptions(
        rollout=RolloutConfig(n=2, concurrency=2, limits=limits), sandbox="local",
        budget_usd=RUN_CAP,
    )  # fmt: skip
    started = time.monotonic()
    with OpenAIStandIn() as server:
        server.responder = router
        outcome = asyncio.run(solve(task, _endpoints(server, ["good", "slow"]), options,
                                    tmp_path / "run"))  # fmt: skip
    assert time.monotonic() - started < 45
    by_model = {c.model: c for c in outcome.candidates}
    assert by_model["slow"].exit_status == "time_limit"
    record = json.loads((tmp_path / "run/trajectories" / f"{by_model['slow'].id}.json").read_text())
    assert "wall time over 10s" in record["exit"]["reason"]
    assert router.calls["slow"] == 1  # it was waiting out the first Retry-After
    assert by_model["good"].exit_status == "submitted"
    assert outcome.selection.chosen == by_model["good"].id
    assert outcome.cost.in_flight == 0


def test_a_rerun_redoes_what_a_storm_ended_and_counts_what_was_paid(tmp_path: Path) -> None:
    """A crash is the endpoint's (or the sandbox's) failure, not an answer: the same run
    directory again redoes that trajectory once the storm is over, keeps the finished one,
    and the restored spend journal keeps the cap over both processes."""
    task = task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)
    run = tmp_path / "run"
    options = SolveOptions(rollout=RolloutConfig(n=2, concurrency=2), sandbox="local",
                           budget_usd=RUN_CAP)  # fmt: skip
    storm = Router(lambda body: body["model"],
                   {"good": STORMS["good"][0], "later": STORMS["ratelimited"][0]})  # fmt: skip
    over = Router(lambda body: body["model"],
                  {"later": solver_script("add(1, 2) == 3", "b + a")})  # fmt: skip
    with OpenAIStandIn() as server:
        server.responder = storm
        first = asyncio.run(solve(task, _endpoints(server, ["good", "later"]), options, run))
        server.responder = over
        second = asyncio.run(solve(task, _endpoints(server, ["good", "later"]), options, run))
    assert {c.model: c.exit_status for c in first.candidates} == {
        "good": "submitted", "later": "crashed"}
    assert {c.model: c.exit_status for c in second.candidates} == {
        "good": "submitted", "later": "submitted"}
    assert over.calls == {"later": 5}  # the finished trajectory was not asked again
    assert second.cost.total.calls == first.cost.total.calls + 5
    assert second.cost.total.usd > first.cost.total.usd > 0
    assert second.cost.total.usd <= RUN_CAP
