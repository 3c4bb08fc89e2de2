"""Grading in Docker, end to end on the bundled micro-tasks: environment image, instance
snapshot, candidate patch, test patch, pytest, verdict and the official-format report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.microtasks import materialize_tasks
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, special_predictions
from sandbox.config import HOST_CA_BUNDLE, DockerSandboxConfig
from sandbox.provider import DockerProvider

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


class _Watching(DockerProvider):
    """The real provider, noting each grading container's network as it starts: its
    interfaces (`ls /sys/class/net`) and Docker's NetworkMode. No traffic is sent."""

    def start(self, config: DockerSandboxConfig, *, kind: str = "sandbox"):
        box = super().start(config, kind=kind)
        if kind != "sandbox":
            return box  # an image build: it installs with network, as it must
        if not hasattr(self, "seen"):  # `connect` builds the instance: no __init__ of ours
            self.seen: list[tuple[list[str], str]] = []
        mode = self.client.api.inspect_container(box.container_id)["HostConfig"]["NetworkMode"]
        self.seen.append((box.exec("ls /sys/class/net", timeout=30).stdout.split(), mode))
        return box


def test_grading_has_no_network_unless_bridge_is_asked(instances, tmp_path: Path) -> None:
    windows = instances[0]
    preds = special_predictions([windows], GOLD)
    default = _Watching.connect(run_id="pytest-grade-net", gc=False)
    report = evaluate([windows], preds, options(tmp_path / "none", tmp_path), provider=default)
    assert report["resolved_ids"] == [windows.instance_id]
    assert default.seen == [(["lo"], "none")]  # the default: loopback only
    bridged = _Watching.connect(run_id="pytest-grade-net", gc=False)
    asked = options(tmp_path / "bridge", tmp_path).model_copy(update={"network": True})
    evaluate([windows], preds, asked, provider=bridged)
    assert [mode for _, mode in bridged.seen] in (["bridge"], ["default"])
