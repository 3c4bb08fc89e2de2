"""selection.pipeline.select_run, offline (the path of `quorum select` and the scaling
figures): matrices built before are reused, the candidates come back untouched, and the
scores a caller persists are in the returned value."""

from __future__ import annotations

import asyncio

from envs.candidate import Candidate
from selection.hybrid import SelectConfig
from selection.matrix import ORIGINAL, Cell, PassMatrix
from selection.pipeline import Evidence, RunOptions, select_run


def _patch(n: int) -> str:
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 0\n+x = {n}\n"


def test_select_run_reuses_known_matrices_and_leaves_its_inputs_alone() -> None:
    cands = [Candidate(id=i, task_id="t", patch=_patch(n))
             for i, n in (("a", 1), ("b", 2), ("c", 1))]  # fmt: skip
    before = [c.model_dump() for c in cands]
    repro = PassMatrix(
        candidate_ids=["a", "b", "c"], test_ids=["t1", "t2"],
        cells={ORIGINAL: {"t1": Cell(passed=False), "t2": Cell(passed=False)},
               "a": {"t1": Cell(passed=True), "t2": Cell(passed=True)},
               "b": {"t1": Cell(passed=False), "t2": Cell(passed=True)},
               "c": {"t1": Cell(passed=True), "t2": Cell(passed=True)}},
    )  # fmt: skip
    run = asyncio.run(select_run(
        "t", cands, [], None, "", RunOptions(selection=SelectConfig(method="cascade")),
        known=Evidence(repro=repro, base_files={"m.py": "x = 0\n"}),
    ))  # fmt: skip
    assert run.selection.chosen in ("a", "c") and run.repro is repro and run.pool is None
    assert run.regress is None and run.base_files == {"m.py": "x = 0\n"}
    assert run.group is not None and sorted(map(sorted, run.group.clusters().values())) == [
        ["a", "c"], ["b"]]
    assert [c.model_dump() for c in cands] == before  # scores go into the result only
    assert run.scores["a"]["pooled_tests_passed"] == 2.0
    assert run.scores["b"]["pooled_tests_passed"] == 1.0
    assert set(run.scores) == {"a", "b", "c"}


def test_select_run_without_candidates_abstains() -> None:
    run = asyncio.run(select_run("t", [], [], None, "", RunOptions()))
    assert run.selection.chosen is None and run.group is None and run.scores == {}
