"""`quorum select PREDS... --dataset --regressions`: each instance's own tests near the
change run in its environment image, on the base and on every distinct patch; a candidate
that breaks a base-passing test ranks below one that does not, the evidence is saved and a
rerun reuses it. Benchmark metadata (FAIL_TO_PASS, test_patch) is never run; an instance
whose environment cannot be built keeps its patch-only signals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envs.candidate import Candidate
from envs.gitcmd import commit_all
from envs.instances import Instance
from quorum.cli import app
from quorum.regressions import RegressionOptions, RegressionRecord, without_hidden
from selection.pool import group_by_task

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
MUL_TESTS = (
    "from pkg.calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\n"
    "def test_mul_zero():\n    assert mul(0, 3) == 0\n"
)
HIDDEN = (
    "diff --git a/tests/test_hidden.py b/tests/test_hidden.py\nnew file mode 100644\n"
    "--- /dev/null\n+++ b/tests/test_hidden.py\n@@ -0,0 +1,5 @@\n+from pkg.calc import add\n"
    "+\n+\n+def test_add():\n+    assert add(1, 2) == 3\n"
)


def _patch(add: str, mul: str = "a * b", comment: str = "") -> str:
    return (
        "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
        "@@ -1,6 +1,6 @@\n def add(a, b):\n-    return a - b\n"
        f"+    return {add}{comment}\n \n \n def mul(a, b):\n-    return a * b\n+    return {mul}\n"
    )


def _repo(root: Path) -> str:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(MUL_TESTS)
    return commit_all(root, "calc")  # pinned dates: the same sha, the same snapshot, each run


def _preds(path: Path, rows: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"instance_id": i, "model_patch": p,
                                        "model_name_or_path": path.stem}) + "\n"
                            for i, p in rows.items()))  # fmt: skip
    return path


def test_without_hidden_drops_benchmark_metadata() -> None:
    inst = Instance(instance_id="i", repo="o/n", base_commit="c", problem_statement="p",
                    patch="gold", test_patch=HIDDEN, FAIL_TO_PASS='["t::a"]',
                    PASS_TO_PASS='["t::b"]')  # fmt: skip
    seen = without_hidden(inst)
    assert (seen.patch, seen.test_patch, seen.fail_to_pass, seen.pass_to_pass) == ("", "", [], [])
    assert seen.problem_statement == "p" and inst.fail_to_pass == ["t::a"]


def test_a_record_is_reused_only_for_the_same_patches(tmp_path: Path) -> None:
    cands = [Candidate(id="a:i", task_id="i", patch=_patch("a + b")),
             Candidate(id="b:i", task_id="i", patch=_patch("a * b"))]  # fmt: skip
    group = group_by_task(cands)["i"]
    options = RegressionOptions(out=tmp_path, cache_dir=tmp_path)
    record = RegressionRecord(instance_id="i", status="ok", patch_keys=dict(group.patch_keys),
                              patch_ids={c.id: c.patch_id for c in cands})  # fmt: skip
    legacy = record.model_copy(update={"patch_ids": {}})  # keys were diff-level then
    assert record.covers(group, options) and legacy.covers(group, options)
    changed = group_by_task([cands[0], cands[1].model_copy(update={"patch": _patch("b")})])["i"]
    assert not record.covers(changed, options) and not legacy.covers(changed, options)
    # A normalisation that merges the two is still covered (each row stands); one that
    # tells apart candidates a record ran as one is not.
    merged = group.model_copy(update={"patch_keys": {"a:i": "k", "b:i": "k"}})
    assert record.covers(merged, options)
    as_one = record.model_copy(update={"patch_keys": {"a:i": "k", "b:i": "k"}})
    assert not as_one.covers(group, options)
    failed = record.model_copy(update={"status": "env_error"})
    assert not failed.covers(group, options)  # a failed build is retried


@pytest.mark.docker
@pytest.mark.slow
def test_regressions_rank_the_breaking_patch_lower(tmp_path: Path) -> None:
    sha = _repo(tmp_path / "calc")
    rows = [
        {"instance_id": "local__calc-1", "repo": str(tmp_path / "calc"), "base_commit": sha,
         "problem_statement": "add() subtracts", "version": "0.1", "test_patch": HIDDEN,
         "FAIL_TO_PASS": json.dumps(["tests/test_hidden.py::test_add"]), "PASS_TO_PASS": "[]"},
        {"instance_id": "nowhere__x-1", "repo": "nowhere/x", "base_commit": "0" * 40,
         "problem_statement": "x", "version": "9.9"},
    ]  # fmt: skip
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    breaks = _patch("a + b", "a ** b")  # fixes add, breaks test_mul (not test_mul_zero)
    good = _patch("a + b")
    other = {"nowhere__x-1": _patch("1")}
    preds = [
        _preds(tmp_path / "sysA.preds.jsonl", {"local__calc-1": breaks, **other}),
        _preds(tmp_path / "sysB.preds.jsonl", {"local__calc-1": good, "nowhere__x-1": _patch("2")}),
        # the same breaking patch up to a comment: patch votes favour it 2 to 1
        _preds(tmp_path / "sysC.preds.jsonl", {"local__calc-1": _patch("a + b", "a ** b", "  # ok"),
                                               **other}),
    ]  # fmt: skip
    for name, resolved in (("sysA", []), ("sysB", ["local__calc-1"]), ("sysC", [])):
        (tmp_path / f"{name}.result.json").write_text(json.dumps({"resolved": resolved}))
    labels = [a for n in ("sysA", "sysB", "sysC")
              for a in ("--labels", str(tmp_path / f"{n}.result.json"))]  # fmt: skip
    env = {"QUORUM_CACHE_DIR": str(tmp_path / "cache")}
    runner = CliRunner()

    def select(out: Path, *extra: str):
        result = runner.invoke(app, ["select", *map(str, preds), *labels, "--out", str(out),
                                     *extra], env=env)  # fmt: skip
        assert result.exit_code == 0, result.output
        return result, json.loads((out / "selection.json").read_text())

    votes, patch_only = select(tmp_path / "votes")
    assert patch_only["local__calc-1"]["chosen"] in ("sysA:local__calc-1", "sysC:local__calc-1")
    assert "selection accuracy (cascade): 0.0%" in votes.output

    out = tmp_path / "regress"
    flags = ("--dataset", str(dataset), "--regressions")
    result, chosen = select(out, *flags)
    calc = chosen["local__calc-1"]
    assert calc["chosen"] == "sysB:local__calc-1", calc["rationale"]
    assert calc["signals"]["regressions"] == {
        "sysA:local__calc-1": 1.0, "sysB:local__calc-1": 0.0, "sysC:local__calc-1": 1.0}
    assert calc["evidence"]["n_regression_tests"] == 2
    assert calc["evidence"]["regression_run"]["test_files"] == ["tests/test_calc.py"]
    assert "selection accuracy (cascade): 50.0%" in result.output  # = the oracle
    assert "oracle (pool coverage): 50.0%" in result.output
    record = json.loads((out / "regressions" / "local__calc-1.json").read_text())
    assert record["status"] == "ok"
    assert record["matrix"]["test_ids"] == [
        "tests.test_calc::test_mul", "tests.test_calc::test_mul_zero"]  # no hidden test
    # the equal-up-to-a-comment patches ran once: sysC shares sysA's row
    assert record["matrix"]["cells"]["sysC:local__calc-1"] == (
        record["matrix"]["cells"]["sysA:local__calc-1"])
    # an environment that cannot be built: reported, patch-only signals, the run went on
    nowhere = chosen["nowhere__x-1"]
    assert nowhere["chosen"] and nowhere["evidence"]["regression_run"]["status"] == "env_error"
    assert nowhere["evidence"]["available_signals"] == ["patch_votes"]
    assert "patch-only signals for: nowhere__x-1" in result.output

    again, rerun = select(out, *flags)
    assert "local__calc-1: reused" in again.output
    assert rerun["local__calc-1"]["chosen"] == "sysB:local__calc-1"
