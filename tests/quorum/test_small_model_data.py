"""The committed real small-model data (benchmarks/data/small_model_v4_outcomes.jsonl and
calibration.json) and the script that makes them: small_model_scaling.py writes
outcomes.jsonl on every run and, with --calibration, the leave-one-task-out report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quorum.allocation import FixedPolicy
from quorum.outcomes import read_table
from quorum.simulate import SimConfig, figures, run_policy
from selection.calibration import FEATURES, Calibration

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benchmarks" / "data"
SCRIPT = ROOT / "benchmarks" / "small_model_scaling.py"
SCALING_SMALL = ROOT / "tests" / "fixtures" / "scaling_small"
# results.json's grades of the run small-model-scaling-v4 (benchmarks/data/README.md)
V4_PASSING = {"micro__basket-1": 2, "micro__change-1": 3, "micro__durations-1": 3,
              "micro__grades-1": 6, "micro__initials-1": 1, "micro__parsing-1": 1,
              "micro__prices-1": 2}  # fmt: skip


def test_the_v4_outcome_table_parses_and_matches_the_runs_grades() -> None:
    table = read_table(DATA / "small_model_v4_outcomes.jsonl")
    assert {i.instance_id: sum(bool(c.resolved) for c in i.candidates) for i in table} == (
        V4_PASSING)  # fmt: skip
    for inst in table:
        assert [c.id for c in inst.candidates] == [f"r0-t{k}" for k in range(8)]  # sampled
        assert all(c.resolved is not None for c in inst.candidates)  # every one graded
        assert all(c.tokens > 0 for c in inst.candidates)
        assert inst.regression_tests > 0 and any(c.tests for c in inst.candidates)
    # the recorded figure the README gives: the fixed policy at N = 8 answers 5 of 7 right
    fixed = figures("fixed", run_policy(table, FixedPolicy(), SimConfig(max_n=8)))
    assert fixed.accuracy == pytest.approx(5 / 7) and fixed.trajectories == 8


def test_the_committed_calibration_says_what_it_was_fitted_on() -> None:
    cal = Calibration.model_validate_json((DATA / "calibration.json").read_text())
    assert cal.features == list(FEATURES) and cal.examples == 747
    assert "small-model-scaling-v4" in cal.fitted_on and "7 graded tasks" in cal.fitted_on
    assert 0 < cal.probability({"support": 0.5, "distinct_fixes": 2}) < 1


@pytest.mark.slow
def test_rescore_writes_outcomes_and_the_calibration_report(tmp_path: Path) -> None:
    root = Path(shutil.copytree(SCALING_SMALL, tmp_path / "scaling"))
    # two systems' predictions on twelve instances: they agree on i0..i5 (right), and
    # disagree on i6..i11, where A is right and B wrong
    patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 0\n+x = {}\n"
    pool = []
    for name, offset in (("sysA", 0), ("sysB", 100)):
        rows = [{"instance_id": f"i{k}", "model_name_or_path": name,
                 "model_patch": patch.format(k if k < 6 else k + offset)}
                for k in range(12)]  # fmt: skip
        pool += ["--calibration-pool", str(tmp_path / f"{name}.preds.jsonl")]
        (tmp_path / f"{name}.preds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        resolved = [f"i{k}" for k in range(12 if name == "sysA" else 6)]
        (tmp_path / f"{name}.result.json").write_text(json.dumps({"resolved": resolved}))
        pool += ["--calibration-labels", str(tmp_path / f"{name}.result.json")]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rescore", "--calibration", "--solvers", "agent",
         "--max-n", "3", "--out", str(root), *pool],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    grades = json.loads((root / "results.json").read_text())["grades"]["agent"]
    table = read_table(root / "outcomes.jsonl")
    assert {i.instance_id: sum(bool(c.resolved) for c in i.candidates) for i in table} == {
        task: sum(g.values()) for task, g in grades.items()}  # fmt: skip
    report = json.loads((root / "calibration_report.json").read_text())
    assert report["tasks"] == sorted(grades)
    for name in ("raw", "loto", "base_rate"):
        assert sum(b["count"] for b in report[name]["buckets"]) == report["examples"]
        assert f"ece_{name}={report[name]['ece']:.3f}" in done.stdout
    by_n = report["by_n"]
    assert report["ns"] == [1, 2] and sorted(by_n) == ["1", "2"]  # N in 1, 2, 4, 8 up to 3
    assert all(row["answered_raw"] <= row["selections"] for row in by_n.values())
    # the pools: one example per instance; the agreeing ones are right, and only those
    # whose winner is A's among the disagreeing ones
    pooled = report["pool_raw"]["buckets"]
    assert sum(b["count"] for b in pooled) == 12
    assert pooled[9]["count"] == 6 and pooled[9]["accuracy"] == 1.0  # agreement: support 1
    assert sum(b["count"] for b in report["loto_with_pools"]["buckets"]) == report["examples"]
    cal = Calibration.model_validate_json((root / "calibration.json").read_text())
    assert cal.examples == report["examples"] and "scaling" in cal.fitted_on
