"""`--allocation adaptive` in a real run (local sandboxes, the scripted model stand-in, the
scenario of test_allocation_live): one trajectory at a time; t0 and t1 agree on one fix,
but only on the tests they wrote themselves, so sampling goes on; t2, another fix, writes
a test the pair passes, and the selector's answer (the pair's fix, unscored, two agree)
is settled: t3 never starts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.openai_standin import Reply
from tests.quorum.test_allocation_live import _run


def test_adaptive_stops_once_the_selectors_answer_is_settled(tmp_path: Path) -> None:
    outcome, asked = _run(tmp_path, "adaptive")
    assert asked["m0"] > 0 and asked["m1"] > 0 and asked["m2"] > 0
    assert asked["m3"] == 0
    assert {c.id for c in outcome.candidates} == {"r0-t0", "r0-t1", "r0-t2"}
    assert outcome.selection.chosen in {"r0-t0", "r0-t1"}
    record = json.loads((tmp_path / "run" / "allocation.json").read_text())
    assert record["policy"] == "adaptive"
    assert record["stopped"].startswith("stopped: the selector's answer r0-t")
    assert "(2 candidates agree; passes 1 validated tests written outside its cluster); " \
           "saved 1 of 4 trajectories" in record["stopped"]
    # one at a time: no decision ever has more than one running
    assert all(d["running"] <= 1 for d in record["decisions"])


def test_adaptive_scores_as_trajectories_finish_and_selection_reuses_the_scores(
        tmp_path: Path) -> None:
    """With a verifier the answer is backed by its score, not by agreement: the same stop,
    said so; each distinct patch is judged once, as it comes (t0's fix, then t2's), and
    selection asks nothing more of the judge."""
    outcome, asked = _run(tmp_path, "adaptive",
                          judge=(Reply.yes_no(0.9, 0.1), Reply.yes_no(0.3, 0.7)))
    assert asked["m3"] == 0
    assert asked["judge"] == 2  # t0's (t1's is the same patch) and t2's; none at selection
    record = json.loads((tmp_path / "run" / "allocation.json").read_text())
    assert "is settled (verifier 0.90; passes 1 validated tests written outside its " \
           "cluster); saved 1 of 4 trajectories" in record["stopped"], record["stopped"]
    assert outcome.selection.chosen in {"r0-t0", "r0-t1"}
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert selection["evidence"]["verifier"] == "verifier:judge"
    assert "verifier P(YES) 0.90" in outcome.selection.rationale
