"""What only the Docker backend promises: isolation settings, users, CA bundles,
snapshots, and cleanup that survives crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from sandbox import labels
from sandbox.config import HOST_CA_BUNDLE, DockerSandboxConfig, SnapshotSpec
from sandbox.docker_client import connect
from sandbox.errors import EngineUnavailable, ImageMissing, SandboxClosed, SandboxError
from sandbox.gc import is_stale, sweep

pytestmark = pytest.mark.docker
SCRIPT = Path(__file__).parent / "scripts" / "start_and_wait.py"


def test_container_carries_labels_limits_and_no_network(provider, snapshot) -> None:
    box = provider.start(DockerSandboxConfig(image=snapshot, memory="512m", cpus=1.5, ttl_s=60))
    attrs = provider.client.api.inspect_container(box.container_id)
    found = attrs["Config"]["Labels"]
    assert found[labels.OWNER_PID] == str(os.getpid())
    assert found[labels.RUN_ID] == "pytest" and found[labels.TTL_S] == "60"
    assert abs(int(found[labels.CREATED_AT]) - time.time()) < 60
    host = attrs["HostConfig"]
    assert host["Init"] is True and host["NetworkMode"] == "none"
    assert host["Memory"] == 512 * 1024**2 and host["NanoCpus"] == 1_500_000_000
    assert host["PidsLimit"] == 1024
    assert box.exec("ls /sys/class/net", timeout=30).stdout.split() == ["lo"]


def test_network_when_asked(provider, snapshot) -> None:
    box = provider.start(DockerSandboxConfig(image=snapshot, network=True))
    assert "eth0" in box.exec("ls /sys/class/net", timeout=30).stdout.split()


def test_ca_bundle_is_mounted_and_announced(provider, snapshot) -> None:
    box = provider.start(DockerSandboxConfig(image=snapshot, ca_bundle=HOST_CA_BUNDLE))
    inside = box.exec("sha256sum < $SSL_CERT_FILE; echo $PIP_CERT", timeout=30).stdout
    expected = subprocess.run(
        ["sha256sum"], stdin=HOST_CA_BUNDLE.open("rb"), capture_output=True, text=True
    ).stdout
    assert inside.splitlines()[0] == expected.strip()
    assert inside.splitlines()[1] == "/etc/ssl/certs/ca-certificates.crt"


def test_non_root_user_owns_the_workspace(provider, base_image, repo) -> None:
    tag = provider.snapshot(SnapshotSpec(base_image=base_image, source=repo, user="agent"))
    box = provider.start(DockerSandboxConfig(image=tag, user="agent"))
    assert box.exec("id -un", timeout=30).stdout.strip() == "agent"
    box.write_file("made_by_agent.txt", "x")
    owner = box.exec("stat -c %U made_by_agent.txt pkg/calc.py", timeout=30).stdout.split()
    assert owner == ["agent", "agent"]
    assert not box.exec("touch /etc/forbidden", timeout=30).ok


def test_snapshot_is_content_keyed_and_sandboxes_are_independent(
    provider, base_image, repo
) -> None:
    spec = SnapshotSpec(base_image=base_image, source=repo, setup=["echo prepared > .setup"])
    first = provider.snapshot(spec)
    started = time.monotonic()
    assert provider.snapshot(spec) == first
    assert time.monotonic() - started < 2, "an existing snapshot must be reused, not rebuilt"
    assert provider.snapshot(spec.model_copy(update={"setup": ["true"]})) != first
    one, two = (provider.start(DockerSandboxConfig(image=first)) for _ in range(2))
    assert one.read_file(".setup") == b"prepared\n"
    one.write_file("only_here.txt", "1")
    assert not two.exec("test -e only_here.txt", timeout=30).ok
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert one.base_commit == head


def test_failed_setup_says_which_command(provider, base_image, repo) -> None:
    spec = SnapshotSpec(base_image=base_image, source=repo, setup=["echo boom >&2; exit 7"])
    with pytest.raises(SandboxError, match=r"failed \(7\).*boom"):
        provider.snapshot(spec)


def test_missing_image_and_dead_engine_are_explained(provider) -> None:
    with pytest.raises(ImageMissing) as info:
        provider.start(DockerSandboxConfig(image=f"quorum/absent:{uuid.uuid4().hex[:8]}"))
    assert "build-base" in str(info.value)
    with pytest.raises(EngineUnavailable) as info:
        connect("unix:///nonexistent/docker.sock")
    assert "dockerd" in str(info.value)


def _ours(client: docker.DockerClient, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})


def _start_child(snapshot: str, run_id: str, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), snapshot, "3", run_id, *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ids = child.stdout.readline().split()
    assert len(ids) == 3, "the child did not start its sandboxes"
    return child, ids


def test_gc_removes_sandboxes_of_a_killed_process(docker_client, snapshot) -> None:
    run_id = f"gc-{uuid.uuid4().hex[:8]}"
    child, ids = _start_child(snapshot, run_id)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert {c.id for c in _ours(docker_client, run_id)} == set(ids)  # leaked, as crashes do
    removed = sweep(docker_client)
    assert set(ids) <= set(removed)
    assert _ours(docker_client, run_id) == []


def test_sigterm_closes_live_sandboxes(docker_client, snapshot) -> None:
    run_id = f"term-{uuid.uuid4().hex[:8]}"
    child, _ = _start_child(snapshot, run_id, "--signals")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert _ours(docker_client, run_id) == []


def test_staleness_rules() -> None:
    alive = {
        labels.OWNER_PID: str(os.getpid()),
        labels.OWNER_HOST: os.uname().nodename,
        labels.OWNER_STARTED: "",
        labels.CREATED_AT: str(int(time.time())),
        labels.TTL_S: "100",
    }
    assert not is_stale(alive, time.time())
    assert is_stale(alive, time.time() + 101)  # TTL passed, owner alive
    assert is_stale({**alive, labels.OWNER_STARTED: "1"}, time.time())  # pid reused
    assert not is_stale({**alive, labels.OWNER_HOST: "elsewhere"}, time.time())


@pytest.mark.parametrize("persistent_shell", [True, False], ids=["shell", "one-shot"])
def test_closing_a_sandbox_ends_a_command_running_in_another_thread(
    provider, snapshot, persistent_shell: bool
) -> None:
    """What SIGINT/SIGTERM handlers do: close every live sandbox from the main thread while
    a worker thread waits on a long command. The worker must return at once, not at the
    command's timeout (a socket shutdown does not always wake a thread in select())."""
    import threading

    box = provider.start(DockerSandboxConfig(image=snapshot, persistent_shell=persistent_shell))
    assert box.exec("true", timeout=30).ok  # the persistent shell (if any) is up
    outcome: dict[str, object] = {}
    running = threading.Event()

    def work() -> None:
        running.set()
        try:
            outcome["result"] = box.exec("sleep 120", timeout=300)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert running.wait(30)
    time.sleep(1.0)  # let the command start and its thread wait on it
    started = time.monotonic()
    box.close()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the command outlived its sandbox"
    assert time.monotonic() - started < 10
    assert isinstance(outcome.get("error"), SandboxClosed), outcome


def test_commands_starting_while_the_sandbox_closes_end_at_once(provider, snapshot) -> None:
    """Threads that call exec() just as close() runs, before or while their shell starts:
    each gets SandboxClosed (never a hang, never the engine's 'no such container')."""
    import threading

    box = provider.start(DockerSandboxConfig(image=snapshot))
    outcomes: list[object] = []
    go = threading.Barrier(5)

    def work() -> None:
        go.wait()
        try:
            outcomes.append(box.exec("sleep 120", timeout=300))
        except BaseException as exc:
            outcomes.append(exc)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(4)]
    for w in workers:
        w.start()
    go.wait()
    box.close()
    for w in workers:
        w.join(timeout=10)
    assert not any(w.is_alive() for w in workers), "a command outlived its sandbox"
    assert len(outcomes) == 4
    assert all(isinstance(o, SandboxClosed) for o in outcomes), outcomes


def test_a_shell_dying_mid_command_never_runs_the_command_twice(provider, snapshot) -> None:
    """The persistent shell killed while its command runs: the outcome is unknown, so exec()
    says so instead of running the command again as a one-shot; the next call gets a new
    shell."""
    box = provider.start(DockerSandboxConfig(image=snapshot))
    assert box.exec("true", timeout=30).ok
    kill_the_shell = "echo ran >> /tmp/runs; pkill -9 -f 'QUORUM''-END'; sleep 5"
    with pytest.raises(SandboxError, match="outcome is unknown"):
        box.exec(kill_the_shell, timeout=60)
    assert box.exec("cat /tmp/runs", timeout=30).stdout.split() == ["ran"]
