"""`quorum select` over prediction files with labels, and `quorum verifier serve`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from quorum.cli import app


def _patch(body: str) -> str:
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 0\n+x = {body}\n"


def _preds(path: Path, rows: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"instance_id": i, "model_patch": p,
                                        "model_name_or_path": path.stem}) + "\n"
                            for i, p in rows.items()))  # fmt: skip
    return path


def test_select_over_prediction_files_with_labels(tmp_path: Path) -> None:
    a = _preds(tmp_path / "sysA.preds.jsonl", {"i1": _patch("1"), "i2": _patch("2")})
    b = _preds(tmp_path / "sysB.preds.jsonl", {"i1": _patch("1  # same"), "i2": _patch("3")})
    c = _preds(tmp_path / "sysC.preds.jsonl", {"i1": _patch("9"), "i2": _patch("3")})
    (tmp_path / "sysA.result.json").write_text(json.dumps({"resolved": ["i1"]}))
    (tmp_path / "sysB.result.json").write_text(json.dumps({"resolved": ["i1", "i2"]}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "select", str(a), str(b), str(c), "--vote-only", "sysC", "--method", "votes",
        "--labels", str(tmp_path / "sysA.result.json"),
        "--labels", str(tmp_path / "sysB.result.json"), "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    chosen = {t: s["chosen"] for t, s in json.loads((out / "selection.json").read_text()).items()}
    # i1: A and B agree after normalisation; i2: C (vote only) backs B's patch
    assert chosen["i1"] in ("sysA:i1", "sysB:i1") and chosen["i2"] == "sysB:i2"
    assert "selection accuracy (votes): 100.0%" in result.output
    assert "random choice: 75.0%" in result.output
    assert "oracle (pool coverage): 100.0%" in result.output
    assert (out / "selection-report.md").is_file()


def test_select_compares_whole_files_from_the_dataset_repository(tmp_path: Path) -> None:
    """The same edit in two different functions: one fix by the diff alone, two once the
    base file is read from the instance's repository at its base commit."""
    from envs.gitcmd import commit_all

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text("def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x + 1\n")
    base = commit_all(repo, "base")
    (repo / "m.py").write_text("changed later: the base commit is what counts\n")
    commit_all(repo, "later")

    def edit(line: int) -> str:
        return (f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -{line} +{line} @@\n"
                "-    return x + 1\n+    return x + 2\n")  # fmt: skip

    a = _preds(tmp_path / "sysA.preds.jsonl", {"i": edit(2)})
    b = _preds(tmp_path / "sysB.preds.jsonl", {"i": edit(6)})
    dataset = tmp_path / "ds.jsonl"
    dataset.write_text(json.dumps({"instance_id": "i", "repo": str(repo), "base_commit": base,
                                   "problem_statement": "g is off by one"}) + "\n")  # fmt: skip
    clusters = {}
    for name, extra in (("diff", []), ("full", ["--dataset", str(dataset)])):
        out = tmp_path / name
        result = CliRunner().invoke(app, ["select", str(a), str(b), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        selection = json.loads((out / "selection.json").read_text())["i"]
        clusters[name] = selection["evidence"]["patch_clusters"]
    assert clusters["diff"] == [["sysA:i", "sysB:i"]]
    assert clusters["full"] == [["sysA:i"], ["sysB:i"]]

    # A run directory knows its repository and base commit from task.json.
    from envs.candidate import Candidate
    from envs.task import Task

    run = tmp_path / "run"
    run.mkdir()
    task = Task(id="i", repo=str(repo), base_commit=base, problem_statement="g is off by one")
    (run / "task.json").write_text(task.model_dump_json())
    cands = [Candidate(id=n, task_id="i", patch=edit(line)) for n, line in (("f", 2), ("g", 6))]
    (run / "candidates.jsonl").write_text("".join(c.model_dump_json() + "\n" for c in cands))
    result = CliRunner().invoke(app, ["select", str(run), "--out", str(tmp_path / "rerun")])
    assert result.exit_code == 0, result.output
    selection = json.loads((tmp_path / "rerun" / "selection.json").read_text())
    assert selection["evidence"]["patch_clusters"] == [["f"], ["g"]]


def test_select_explains_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "x.preds.jsonl"
    bad.write_text("{not json\n")
    result = CliRunner().invoke(app, ["select", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "not valid JSON" in result.output
    result = CliRunner().invoke(app, ["select", str(bad), "--method", "magic"])
    assert result.exit_code == 1 and "--method must be one of" in result.output


def test_verifier_serve_flags_and_missing_vllm() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "verifier",
            "serve",
            "org/judge",
            "--dry-run",
            "--lora",
            "head=/adapters/head",
            "--max-model-len",
            "16384",
        ],
    )
    assert result.exit_code == 0
    for flag in (
        "--enable-prefix-caching",
        "--max-model-len 16384",
        "--max-logprobs 20",
        "--enable-lora --lora-modules head=/adapters/head",
        "--model org/judge",
    ):
        assert flag in result.output
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        result = runner.invoke(app, ["verifier", "serve", "org/judge"])
        assert result.exit_code == 1 and "vLLM is not installed" in result.output


def test_select_reruns_a_run_directory_on_its_saved_matrix(tmp_path: Path) -> None:
    from envs.candidate import Candidate
    from selection.matrix import ORIGINAL, Cell, PassMatrix

    run = tmp_path / "run"
    run.mkdir()
    cands = [Candidate(id=i, task_id="t", patch=_patch(b)) for i, b in (("a", "1"), ("b", "2"))]
    (run / "candidates.jsonl").write_text("".join(c.model_dump_json() + "\n" for c in cands))
    rows = {ORIGINAL: False, "a": False, "b": True}
    PassMatrix(candidate_ids=list(rows), test_ids=["t1"],
               cells={c: {"t1": Cell(passed=p)} for c, p in rows.items()}).save(
        run / "matrix.json")  # fmt: skip
    result = CliRunner().invoke(app, ["select", str(run), "--method", "weighted"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "selection.json").read_text())
    assert saved["chosen"] == "b" and saved["signals"]["tests"] == {"a": 0.0, "b": 1.0}
