"""`--images official|auto`: an instance image in the official SWE-bench layout is pulled
from a real registry on loopback, made history-free, and used for grading and for the
agent's sandbox; `auto` builds where the registry has no image, `official` says why not.

The image stands in for a published one, built here the way the harness lays it out: the
repository in /testbed checked out at the base commit with all of its history (the fix,
later tags, other branches, a stash: what images built before the harness pruned history
hold), installed, with an ignored build artefact beside it; and a conda environment
`testbed` behind `source /opt/miniconda3/bin/activate && conda activate testbed` (a venv at
/opt/miniconda3/envs/testbed behind the same activation path)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from typer.testing import CliRunner

from envs.environment import EnvironmentBuilder
from envs.instances import Instance, read_instances
from envs.official_images import ENV_DIR, WORKDIR, official_image_ref
from envs.specs import official_image_spec
from quorum.cli import app
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, special_predictions
from sandbox.config import HOST_CA_BUNDLE, DockerSandboxConfig
from sandbox.images import ensure_base_image
from sandbox.provider import DockerProvider
from tests.helpers.future_history import History, assert_no_future, build_history
from tests.helpers.registry import local_registry, push
from tests.helpers.shared_data import shared_path

# astroid 3.0's swebench spec: pip_packages pytest, `python -m pip install -e .`, pytest -rA
PUBLISHED = "pylint-dev__astroid-90001"  # in the registry
UNPUBLISHED = "pylint-dev__astroid-90002"  # not: auto builds it, official refuses it
ACTIVATE_STANDIN = """# conda's activate, standing in: `conda activate NAME` enters that venv
conda() { [ "$1" = activate ] && . "/opt/miniconda3/envs/$2/bin/activate"; }
"""
BUNDLE = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None


def _instance(history: History, instance_id: str) -> Instance:
    return Instance(instance_id=instance_id, repo="pylint-dev/astroid", version="3.0",
                    base_commit=history.base, problem_statement="add subtracts",
                    patch=history.patch, test_patch=history.test_patch,
                    FAIL_TO_PASS=["tests/test_calc.py::test_add"],
                    PASS_TO_PASS=["tests/test_calc.py::test_sub"])


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("official") / "calc")


@pytest.fixture(scope="module")
def provider(docker_client: docker.DockerClient) -> Iterator[DockerProvider]:
    provider = DockerProvider(docker_client, run_id="pytest-official")
    yield provider
    provider.close_all()


@pytest.fixture(scope="module")
def namespace(docker_client: docker.DockerClient, provider: DockerProvider, history: History,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry holding PUBLISHED's stand-in official image (not present locally)."""
    with local_registry(tmp_path_factory.mktemp("registry")) as address:
        space = f"{address}/swebench"
        ref = official_image_ref(PUBLISHED, space)
        _build_standin(docker_client, provider, history, ref)
        push(docker_client, ref)
        yield space
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(ref, force=True)


def _build_standin(client: docker.DockerClient, provider: DockerProvider, history: History,
                   ref: str) -> None:
    base = ensure_base_image(client, "bullseye")
    with provider.start(DockerSandboxConfig(image=base, workspace=WORKDIR, network=True,
                                            ca_bundle=BUNDLE)) as box:  # fmt: skip
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(history.root, arcname=".")  # .git and all: every ref, the stash, reflogs
        client.api.put_archive(box.container_id, WORKDIR, data.getvalue())
        for cmd in (
            f"python3 -m venv {ENV_DIR} && {ENV_DIR}/bin/pip install -q -U pip setuptools pytest",
            f"mkdir -p /opt/miniconda3/bin && cat > /opt/miniconda3/bin/activate <<'EOF'\n"
            f"{ACTIVATE_STANDIN}EOF",
            # as the harness: main reset to the base commit, the fix left in the reflog
            f"git -c safe.directory='*' reset -q --hard {history.base}",
            f"{ENV_DIR}/bin/pip install -q -e .",
            "touch pkg/_speedups.so",  # an ignored build artefact the agent must keep
        ):
            result = box.exec(cmd, timeout=600)
            assert result.ok, f"{cmd}: {result.output}"
        repository, tag = ref.rsplit(":", 1)
        path = "/opt/miniconda3/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        client.api.commit(box.container_id, repository=repository, tag=tag,
                          conf={"WorkingDir": WORKDIR, "Env": [f"PATH={path}"]})


def _grade(instances: list[Instance], kind: str, out: Path, **options) -> dict:
    return evaluate(instances, special_predictions(instances, kind),
                    EvalOptions(out=out, workers=1, ca_bundle=BUNDLE, cache_dir=out.parent /
                                "cache", timeout_s=300, **options), allow_empty=True)


def _logs(out: Path) -> list[str]:
    return [p.read_text() for p in sorted((out / "instances").glob("*/*.log"))]


@pytest.mark.docker
def test_official_image_is_pulled_made_history_free_and_graded(
        history: History, namespace: str, provider: DockerProvider, docker_client,
        tmp_path: Path) -> None:
    inst = _instance(history, PUBLISHED)
    ref = official_image_ref(PUBLISHED, namespace)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(ref)  # only the registry has it
    for kind, resolved in ((GOLD, [PUBLISHED]), (EMPTY, [])):
        out = tmp_path / kind
        report = _grade([inst], kind, out, images="official", namespace=namespace)
        assert report["resolved_ids"] == resolved, _logs(out)
        assert report["error_instances"] == 0, _logs(out)
        assert report["official_image_ids"] == [PUBLISHED]
        assert report["substituted_ids"] == []
    assert docker_client.images.get(ref)  # pulled
    assert f"pulling {ref}" in (tmp_path / GOLD / "instances" / PUBLISHED / "build.log").read_text()
    # the grader ran the spec's commands behind the image's own activation
    eval_log = (tmp_path / GOLD / "instances" / PUBLISHED / "eval.log").read_text()
    assert "$ source /opt/miniconda3/bin/activate && conda activate testbed && pytest -rA" \
        in eval_log

    builder = EnvironmentBuilder(provider, cache_dir=tmp_path / "cache", images="official",
                                 namespace=namespace)  # fmt: skip
    prepared = builder.prepare(inst, tmp_path / "build.log")
    assert prepared.source == "official"
    auto = EnvironmentBuilder(provider, cache_dir=tmp_path / "cache", images="auto",
                              namespace=namespace).prepare(inst, tmp_path / "auto.log")
    assert auto == prepared  # auto takes the published image where there is one
    with provider.start(DockerSandboxConfig(image=prepared.image)) as box:
        assert box.workspace == WORKDIR
        assert_no_future(box, history)
        assert box.exec("test -f pkg/_speedups.so", timeout=30).ok  # the files stay as built
        status = box.exec("git -c safe.directory='*' status --porcelain", timeout=60)
        assert status.ok and status.stdout == "", status.output  # the new .git fits the files
        which = box.exec("command -v python && python -c 'import pytest, pkg'", timeout=60)
        assert which.ok and which.stdout.splitlines()[0] == f"{ENV_DIR}/bin/python", which.output
    # the host copy the task reads holds no future either
    host = subprocess.run(["git", "-C", str(prepared.repo), "log", "--all", "--format=%H"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert set(host) == history.past


@pytest.mark.docker
def test_env_exec_runs_in_the_official_image(history: History, namespace: str,
                                             tmp_path: Path) -> None:
    dataset = tmp_path / "instances.jsonl"
    dataset.write_text(json.dumps(_instance(history, PUBLISHED).model_dump(by_alias=True)))
    result = CliRunner().invoke(app, [
        "env", "exec", PUBLISHED, "--dataset", str(dataset), "--images", "official",
        "--image-namespace", namespace, "--", "sh", "-c",
        "pwd; git -c safe.directory='*' log --all --format=%H; git tag"],
        env={"QUORUM_CACHE_DIR": str(tmp_path / "cache")})  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.split()
    assert lines[0] == WORKDIR
    assert set(lines[1:-1]) == history.past and lines[-1] == "v0.1"


@pytest.mark.docker
def test_official_refuses_and_auto_builds_where_the_registry_has_no_image(
        history: History, namespace: str, tmp_path: Path) -> None:
    inst = _instance(history, UNPUBLISHED)
    out = tmp_path / "official"
    report = _grade([inst], GOLD, out, images="official", namespace=namespace)
    assert report["error_statuses"] == {UNPUBLISHED: "env_error"}
    detail = json.loads((out / "instances" / UNPUBLISHED / "report.json").read_text())["detail"]
    assert official_image_ref(UNPUBLISHED, namespace) in detail
    assert "--images auto" in detail

    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--mirror", str(history.root),
                    str(mirrors / "pylint-dev+astroid")], check=True)  # fmt: skip
    out = tmp_path / "auto"
    report = _grade([inst], GOLD, out, images="auto", namespace=namespace, mirror_dir=mirrors)
    assert report["resolved_ids"] == [UNPUBLISHED], _logs(out)
    assert report["official_image_ids"] == []
    build_log = (out / "instances" / UNPUBLISHED / "build.log").read_text()
    assert "--images auto: building the environment instead" in build_log


BREAKS_SUB = (
    "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
    "@@ -3,4 +3,4 @@\n \n \n def sub(a, b):\n-    return a - b\n+    return a * b\n"
)


@pytest.mark.docker
def test_regressions_run_in_the_official_image(history: History, namespace: str,
                                               provider: DockerProvider, tmp_path: Path) -> None:
    """`quorum select --regressions --images official`: the repository's tests near the
    change run in the published image (its own environment, no build): the candidate that
    breaks test_sub is told apart from the fix; a record made in another kind of image is
    not reused for it."""
    from envs.candidate import Candidate
    from quorum.regressions import RegressionOptions, collect_regressions
    from selection.pool import group_by_task

    inst = _instance(history, PUBLISHED)
    groups = group_by_task([Candidate(id="fix", task_id=PUBLISHED, patch=history.patch),
                            Candidate(id="breaks", task_id=PUBLISHED, patch=BREAKS_SUB)])
    options = RegressionOptions(out=tmp_path / "regressions", cache_dir=tmp_path / "cache",
                                ca_bundle=BUNDLE, images="official", image_namespace=namespace,
                                timeout_s=300)  # fmt: skip
    record = collect_regressions(groups, {PUBLISHED: inst}, options, provider=provider)[PUBLISHED]
    assert record.status == "ok", (record.detail,
                                   (options.out / f"{PUBLISHED}.build.log").read_text())
    assert record.image_source == "official" and record.test_files == ["tests/test_calc.py"]
    matrix = record.matrix
    [sub] = [t for t in matrix.test_ids if t.endswith("test_sub")]
    assert matrix.test_ids == [sub]  # the hidden test_add is nowhere
    assert matrix.passed("fix", sub) and not matrix.passed("breaks", sub)
    assert record.covers(groups[PUBLISHED], options)
    built = options.model_copy(update={"images": "build"})
    assert not record.covers(groups[PUBLISHED], built)  # asked for a built image now: rerun
    assert record.covers(groups[PUBLISHED], options.model_copy(update={"images": "auto"}))


def test_image_names_are_the_harness_own() -> None:
    from swebench.harness.test_spec.test_spec import make_test_spec

    lite = read_instances(shared_path("data", "swe-bench", "lite-test.jsonl")).records
    # repositories whose spec lists its packages (make_test_spec fetches requirement files)
    picked = [next(i for i in lite if i.repo == repo)
              for repo in ("psf/requests", "pytest-dev/pytest", "astropy/astropy")]
    for inst in picked:
        raw = json.loads(inst.model_dump_json(by_alias=True))
        spec = make_test_spec(raw, namespace="swebench")
        assert official_image_ref(inst.instance_id) == spec.instance_image_key


def test_an_official_image_needs_no_substitution() -> None:
    # Django 3.0 asks for Python 3.6: no base here has it, its official image does
    spec = official_image_spec("django/django", "3.0", "source /x && conda activate testbed")
    assert spec.supported and not spec.substituted and spec.python == "3.6"
    assert spec.test_cmd.startswith("./tests/runtests.py")
    assert spec.activate == "source /x && conda activate testbed"
    missing = official_image_spec("no/such", "1.0", "true")
    assert not missing.supported and "no spec" in missing.reason


def test_a_bad_images_value_or_namespace_is_refused(tmp_path: Path) -> None:
    def run(*args: str) -> str:
        result = CliRunner().invoke(app, ["eval", "--gold", "--dataset",
                                          str(tmp_path / "x.jsonl"), *args])  # fmt: skip
        assert result.exit_code == 1
        return result.output

    assert "--images must be official, build or auto, not 'registry'" in run(
        "--images", "registry")
    assert "--image-namespace 'MyOrg/swebench' is not a registry path" in run(
        "--images", "official", "--image-namespace", "MyOrg/swebench")


def test_images_where_there_is_no_instance_image_is_refused_not_ignored(tmp_path: Path) -> None:
    """--images official on a local repository, or with the local sandbox, would be ignored:
    the run would not be what was asked for. Refused before anything starts."""
    def solve(*args: str) -> str:
        result = CliRunner().invoke(app, ["solve", *args, "--images", "official",
                                          "--out", str(tmp_path / "run")])  # fmt: skip
        assert result.exit_code == 1, result.output
        return " ".join(result.output.split())

    here = solve(str(tmp_path), "--issue", "it breaks")
    assert "--images official applies to SWE-bench instances in Docker, not to a " \
        "repository or GitHub issue" in here
    local = solve("some__id-1", "--dataset", str(tmp_path / "x.jsonl"), "--sandbox", "local")
    assert "not to a local sandbox" in local and "drop --images" in local
    assert not (tmp_path / "run").exists()  # refused before a run directory is made
    select = CliRunner().invoke(app, ["select", str(tmp_path), "--images", "auto"])
    assert select.exit_code == 1
    assert "--images auto is for the containers of --regressions" in " ".join(
        select.output.split())


def test_pull_failures_are_told_apart() -> None:
    from envs.official_images import _pull_failure

    # what Docker's daemon answers (registry v2, Docker Hub)
    assert _pull_failure(404, "manifest for x:latest not found: manifest unknown") == "missing"
    assert _pull_failure(500, "pull access denied for swebench/x, repository does not exist "
                         "or may require 'docker login'") == "missing"
    assert _pull_failure(500, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
                         "registry-1.docker.io: no such host") == "unreachable"
    assert _pull_failure(429, "toomanyrequests: You have reached your pull rate limit") is None
    assert _pull_failure(500, "write /var/lib/docker/tmp/x: no space left on device") is None
