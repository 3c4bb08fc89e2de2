"""Grading in Docker, end to end on the bundled micro-tasks: environment image, instance
snapshot, candidate patch, test patch, pytest, verdict and the official-format report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.microtasks import materialize_tasks
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, special_predictions
from sandbox.config import HOST_CA_BUNDLE

pytestmark = pytest.mark.docker
IDS = ["micro__windows-1", "micro__basket-1"]


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory):
    return materialize_tasks(tmp_path_factory.mktemp("tasks"), ids=IDS)


def options(out: Path, cache: Path, workers: int = 1) -> EvalOptions:
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    return EvalOptions(out=out, workers=workers, ca_bundle=bundle, cache_dir=cache,
                       timeout_s=300)


def test_gold_resolves_and_the_report_is_official(instances, tmp_path: Path) -> None:
    preds = special_predictions(instances, GOLD)
    report = evaluate(instances, preds, options(tmp_path / "gold", tmp_path, workers=2))
    assert report["resolved_ids"] == sorted(IDS)
    assert report["completed_instances"] == 2 and report["error_instances"] == 0
    on_disk = json.loads((tmp_path / "gold" / "report.json").read_text())
    assert on_disk["resolved_instances"] == 2 and on_disk["schema_version"] == 2
    logs = tmp_path / "gold" / "instances" / IDS[0]
    assert "passed" in (logs / "test_output.txt").read_text()
    assert (logs / "build.log").exists() and (logs / "eval.log").exists()


def test_empty_bad_and_missing_patches_each_get_their_status(instances, tmp_path: Path) -> None:
    windows, basket = instances
    # --empty: the tests run without a fix, and FAIL_TO_PASS fails
    report = evaluate([windows], special_predictions([windows], EMPTY),
                      options(tmp_path / "empty", tmp_path), allow_empty=True)
    assert report["unresolved_ids"] == [windows.instance_id]
    result = json.loads((tmp_path / "empty" / "instances" / windows.instance_id /
                         "report.json").read_text())
    assert result["fail_to_pass"]["failure"] == windows.fail_to_pass
    # a submission's empty patch is not run; a patch that does not apply is an error
    bad = "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n"
    preds = {windows.instance_id: {"instance_id": windows.instance_id, "model_patch": ""},
             basket.instance_id: {"instance_id": basket.instance_id, "model_patch": bad}}
    report = evaluate(instances, preds, options(tmp_path / "mixed", tmp_path))
    assert report["empty_patch_ids"] == [windows.instance_id]
    assert report["error_ids"] == [basket.instance_id]
    assert report["error_statuses"] == {basket.instance_id: "patch_failed"}
