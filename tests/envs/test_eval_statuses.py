"""Statuses decided before any container starts, and the report's official fields."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from envs.environment import EnvironmentBuilder
from envs.grading import GradeResult
from envs.instances import Instance
from quorum.cli import app
from quorum.evaluate import EvalOptions, grade_instance, load_predictions, official_report


def make(iid: str, repo: str = "django/django", version: str = "3.0") -> Instance:
    return Instance(instance_id=iid, repo=repo, base_commit="a" * 40, problem_statement="p",
                    version=version, FAIL_TO_PASS=["t"])


def test_unsupported_environment_is_an_env_error_with_its_reason(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(None, cache_dir=tmp_path)  # type: ignore[arg-type]
    result = grade_instance(builder, make("django__django-1"), "diff --git a/x b/x\n",
                            EvalOptions(out=tmp_path))
    assert result.status == "env_error" and "Python 3.6" in result.detail


def test_empty_patch_is_not_run(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(None, cache_dir=tmp_path)  # type: ignore[arg-type]
    result = grade_instance(builder, make("x"), "  \n", EvalOptions(out=tmp_path))
    assert result.status == "empty_patch"


def test_report_has_the_official_fields() -> None:
    instances = [make(i) for i in ("a", "b", "c", "d", "e")]
    preds = {i: {"instance_id": i, "model_patch": "p"} for i in ("a", "b", "c", "d", "zz")}
    results = {"a": GradeResult(instance_id="a", status="resolved"),
               "b": GradeResult(instance_id="b", status="unresolved"),
               "c": GradeResult(instance_id="c", status="timeout"),
               "d": GradeResult(instance_id="d", status="empty_patch")}
    report = official_report(instances, preds, results)
    assert report["total_instances"] == 5 and report["submitted_instances"] == 4
    assert report["completed_ids"] == ["a", "b"] and report["resolved_ids"] == ["a"]
    assert report["error_ids"] == ["c"] and report["empty_patch_ids"] == ["d"]
    assert report["error_statuses"] == {"c": "timeout"}
    assert report["schema_version"] == 2


def test_predictions_load_from_jsonl_or_a_dict(tmp_path: Path) -> None:
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"instance_id": "a", "model_patch": "x"}\n')
    assert load_predictions(lines)["a"]["model_patch"] == "x"
    keyed = tmp_path / "p.json"
    keyed.write_text('{"a": {"instance_id": "a", "model_patch": "y"}}')
    assert load_predictions(keyed)["a"]["model_patch"] == "y"


def test_eval_wants_exactly_one_source_of_patches(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(make("a").model_dump_json(by_alias=True) + "\n")
    result = CliRunner().invoke(app, ["eval", "--dataset", str(data), "--gold", "--empty"])
    assert result.exit_code == 1 and "exactly one" in result.output


def test_agreement_with_an_official_result() -> None:
    from quorum.compare import agreement

    report = {"submitted_ids": ["a", "b", "c"], "resolved_ids": ["a", "c"]}
    result = agreement(report, {"resolved": ["a", "b"]})
    assert (result["agree"], result["instances"]) == (1, 3)
    assert result["only_here"] == ["c"] and result["only_officially"] == ["b"]
