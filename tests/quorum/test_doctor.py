"""`quorum doctor`, run as a user runs it: a child process with a chosen environment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from quorum.doctor import CHECKS, Check, Probe, check_model_endpoint
from sandbox import images, labels
from tests.helpers.images import image_with_bytes

SECRET = "sk-test-secret-value"


def doctor(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "OPENAI_API_KEY": SECRET, "COLUMNS": "80", **env}
    return subprocess.run(
        [sys.executable, "-m", "quorum.cli", "doctor"],
        capture_output=True, text=True, env=full, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def test_closed_socket_fails_the_engine_check_with_a_fix(tmp_path) -> None:
    sock = tmp_path / "closed.sock"  # a path nothing listens on
    proc = doctor(tmp_path, DOCKER_HOST=f"unix://{sock}")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(lines) == len(CHECKS)  # one line per check, even long ones (no wrapping)
    engine = next(line for line in lines if "Docker engine" in line)
    assert engine.startswith("✗") and "fix:" in engine and "DOCKER_HOST" in engine
    for suite in images.SUITES:
        line = next(line for line in lines if f"base image {suite}" in line)
        assert line.startswith("✗") and "engine unreachable" in line
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.docker
def test_real_engine_passes_and_the_key_is_never_printed(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    proc = subprocess.run(
        [sys.executable, "-m", "quorum.cli", "doctor"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**env, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"},
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert len(lines) == len(CHECKS), proc.stdout
    assert next(line for line in lines if "Docker engine" in line).startswith("✓")
    model = next(line for line in lines if "model endpoint" in line)
    assert model.startswith("✓") and "http://127.0.0.1:8000/v1" in model
    assert SECRET not in proc.stdout + proc.stderr
    # make test builds the base images first, so every required check passes.
    failed = [line for line in lines if line.startswith("✗")]
    assert proc.returncode == (1 if failed else 0)
    assert not failed, proc.stdout


def test_unconfigured_model_is_reported_but_not_required(tmp_path) -> None:
    check = check_model_endpoint(Probe(environ={}, cwd=tmp_path))
    assert not check.ok and not check.required and "not yet configured" in check.detail


def test_a_check_is_one_small_function(tmp_path) -> None:
    # The shape others rely on to add a check in one line.
    for check in CHECKS:
        result = check(Probe(environ={"DOCKER_HOST": f"unix://{tmp_path}/x.sock"}, cwd=tmp_path))
        assert isinstance(result, Check) and result.name


def test_embedded_model_missing_from_the_cache_says_how_to_fetch(tmp_path) -> None:
    from quorum.doctor import check_embedded_model

    check = check_embedded_model(Probe(environ={"QUORUM_CACHE_DIR": str(tmp_path)}, cwd=tmp_path))
    assert not check.ok and not check.required
    assert "not fetched" in check.detail and "quorum model fetch" in check.fix


@pytest.mark.docker
def test_quorums_images_warn_above_the_configured_size(tmp_path, docker_client) -> None:
    from quorum.doctor import check_images

    tag = f"quorum-test-doctor:{uuid.uuid4().hex[:12]}"  # 2 MiB of snapshot, whatever else exists
    image_with_bytes(docker_client, tag, [f"LABEL {labels.MANAGED}=1 {labels.KIND}=snapshot"],
                     2 << 20)  # fmt: skip
    try:
        huge = check_images(Probe(environ={"QUORUM_IMAGES_WARN_GIB": "100000"}, cwd=tmp_path))
        assert huge.ok and "snapshot/environment image(s)" in huge.detail and not huge.required
        assert int(huge.detail.split()[0]) >= 1
        tight = check_images(Probe(environ={"QUORUM_IMAGES_WARN_GIB": "0.001"}, cwd=tmp_path))
        assert not tight.ok and "over 0.001 GiB" in tight.detail
        assert "quorum images prune" in (tight.fix or "")
        bad = check_images(Probe(environ={"QUORUM_IMAGES_WARN_GIB": "lots"}, cwd=tmp_path))
        assert not bad.ok and "not a number" in bad.detail
    finally:
        docker_client.images.remove(tag, force=True)
