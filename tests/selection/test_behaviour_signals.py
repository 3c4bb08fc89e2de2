"""Behaviour votes in the signals: with a behaviour table, votes count behaviour clusters
(patch votes step aside) and so do the distinct fixes a tie is counted in; a table
without calls says nothing."""

from __future__ import annotations

from envs.candidate import Candidate
from selection.behaviour import BehaviourTable, broken_run, merge_by_outputs
from selection.hybrid import SelectConfig, rank, select
from selection.pool import group_by_task
from selection.signals import collect_signals


def _patch(body: str) -> str:
    return (
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n"
        f"@@ -1,2 +1,2 @@\n def f(x):\n-    return x\n+    return {body}\n"
    )


GROUP = group_by_task([
    Candidate(id="a", task_id="t", patch=_patch("x + 1")),
    Candidate(id="b", task_id="t", patch=_patch("1 + x")),
    Candidate(id="c1", task_id="t", patch=_patch("x * 2")),
    Candidate(id="c2", task_id="t", patch=_patch("x * 2")),
    Candidate(id="d", task_id="t", patch=_patch("x - 1")),
])["t"]  # fmt: skip
OUTPUTS = {"a": ["2"], "b": ["2"], "c1": ["2"], "d": ["0"]}  # f(1): a, b and c agree


def _table(outputs: dict[str, list[str]], failed: dict[str, str] | None = None) -> BehaviourTable:
    failed = failed or {}
    return BehaviourTable(setup="", calls=["f(1)"], outputs=outputs, failed=failed,
                          clusters=merge_by_outputs(GROUP, outputs, failed))  # fmt: skip


def test_clusters_merge_equal_outputs_biggest_first() -> None:
    assert _table(OUTPUTS).clusters == [["a", "b", "c1", "c2"], ["d"]]
    apart = _table({"a": ["2"], "b": ["3"], "c1": ["2"], "d": ["2"]})
    assert apart.clusters == [["a", "c1", "c2", "d"], ["b"]]


def test_a_failed_representative_keeps_its_patch_cluster() -> None:
    table = _table(OUTPUTS, failed={"c1": "setup failed"})
    assert table.clusters == [["a", "b"], ["c1", "c2"], ["d"]]
    assert broken_run(["raise ModuleNotFoundError: No module named 'm'"] * 2)
    assert not broken_run(["raise ModuleNotFoundError: x", "1"])


def test_votes_count_behaviours_and_ties_count_behaviour_clusters() -> None:
    plain = collect_signals(GROUP)
    assert rank(plain, SelectConfig(method="votes"))[0] in ("c1", "c2")  # biggest text
    assert plain.tied_fixes("a") == 3  # a, b, d: one vote each, nothing else speaks
    probed = collect_signals(GROUP, behaviour=_table({"a": ["2"], "b": ["2"], "c1": ["3"],
                                                      "d": ["4"]}))  # fmt: skip
    assert "behaviour_votes" in probed.normalised() and "patch_votes" not in probed.normalised()
    assert probed.behaviour_votes == {"a": 0.4, "b": 0.4, "c1": 0.4, "c2": 0.4, "d": 0.2}
    assert probed.tied_fixes("a") == 2  # a+b and c1+c2 tie on votes: two behaviours
    merged = collect_signals(GROUP, behaviour=_table(OUTPUTS))
    assert merged.tied_fixes("a") == 1  # four texts, one behaviour
    selection = select("t", merged, SelectConfig(method="votes", threshold=0.0))
    assert selection.chosen in ("a", "b", "c1", "c2") and "tied_fixes" not in selection.evidence
    assert selection.signals["behaviour_votes"]["d"] == 0.2


def test_a_table_without_calls_is_no_signal() -> None:
    empty = BehaviourTable(setup="", calls=[], note="the probe model failed")
    signals = collect_signals(GROUP, behaviour=empty)
    assert signals.behaviour_votes == {} and "patch_votes" in signals.normalised()


def test_a_recorded_table_cut_to_a_sub_sample() -> None:
    """A sub-sample sees the recorded clusters cut to its members; a cluster whose
    representative is left out is led by a member with the same outputs."""
    table = _table(OUTPUTS | {"__original__": ["1"]})
    cut = table.restricted({"b", "c2", "d"})
    assert cut.clusters == [["b", "c2"], ["d"]]
    assert cut.outputs == {"__original__": ["1"], "b": ["2"], "d": ["0"]}
    assert cut.votes() == {"b": 2 / 3, "c2": 2 / 3, "d": 1 / 3}
    assert table.restricted({"d"}).clusters == [["d"]]
    failed = _table(OUTPUTS, failed={"c1": "setup failed"}).restricted({"c1", "c2", "a"})
    assert failed.clusters == [["c1", "c2"], ["a"]]  # biggest first
    assert "c1" not in failed.outputs and failed.failed == {"c1": "setup failed"}


def test_select_run_uses_a_recorded_table_without_probing() -> None:
    import asyncio

    from selection.pipeline import Evidence, RunOptions, select_run

    cands = [c for c in GROUP.candidates if c.id in ("a", "b", "c1", "d")]
    known = Evidence(base_files={}, behaviour=_table(OUTPUTS))
    run = asyncio.run(select_run("t", cands, [], None, "", RunOptions(), known=known))
    evidence = run.selection.evidence["behaviour"]
    assert evidence["clusters"] == [["a", "b", "c1"], ["d"]]  # c2 is not in this run
    assert run.selection.signals["behaviour_votes"]["a"] == 0.75
    assert run.selection.chosen in ("a", "b", "c1")


def test_blind_probes_are_no_evidence() -> None:
    """Outcomes the same on every patch and on the original: the probes never reached
    the change, and the agreement they show must not vote (the embedded model's probes
    on the prices task printed variables: None everywhere)."""
    same = {"a": ["None"], "b": ["None"], "c1": ["None"], "d": ["None"], "__original__": ["None"]}
    blind = _table(same)
    assert blind.clusters == [["a", "b", "c1", "c2", "d"]] and not blind.usable
    assert "behaviour_votes" not in collect_signals(GROUP, behaviour=blind).normalised()
    changed = _table({k: (["1"] if k != "__original__" else ["None"]) for k in same})
    assert changed.usable  # one behaviour, but not the original's: the patches agree on it


def test_print_calls_are_read_as_their_argument() -> None:
    from selection.differential import parse_probes

    plan = parse_probes("SETUP\n```python\nfrom m import f\nr = f(1)\n```\nCALLS\n```python\n"
                        "print(r)  # Output: 2\nprint(f(2))\nprint(r, 1)\n```")  # fmt: skip
    assert plan.calls == ["r", "f(2)", "print(r, 1)"]
    assert plan.unused == ["read as its argument: print(r)  # Output: 2",
                           "read as its argument: print(f(2))"]  # fmt: skip
