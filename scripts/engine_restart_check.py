"""Manual check (README, Faults): a real dockerd restart in the middle of `quorum solve`,
then the same command again. Run as root, only when nothing else uses the engine:

    .venv/bin/python scripts/engine_restart_check.py down|back

`down`: the held trajectory's next call is made while the engine is down; `back`: after the
engine is back (its containers stay stopped, as after any restart). CI simulates the same
fault without touching the shared engine (tests/quorum/test_faults_engine.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from envs.microtasks import materialize_tasks
from tests.helpers.faults import (
    ENV,
    Router,
    ids,
    leftovers,
    models_file,
    run_quorum,
    start_quorum,
    wait_until,
)
from tests.helpers.openai_standin import OpenAIStandIn
from tests.quorum.test_bench import WINDOWS

DOCKERD_LOG = "/var/log/quorum-dockerd.log"


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


def stop_engine() -> None:
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    for _ in range(120):
        if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0:
            return
        time.sleep(0.5)
    raise SystemExit("dockerd did not stop within 60 s")


def start_engine() -> None:
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         start_new_session=True)  # fmt: skip
    for _ in range(60):
        if engine_answers():
            return
        time.sleep(1)
    raise SystemExit(f"dockerd did not answer within 60 s (log: {DOCKERD_LOG})")


def main(variant: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"restart-{variant}-"))
    materialize_tasks(tmp / "tasks", ids=["micro__windows-1"])
    router = Router(lambda body: body["model"], {"a": WINDOWS, "b": WINDOWS})
    out = tmp / "run"
    with OpenAIStandIn() as server:
        server.responder = router
        models = models_file(tmp / "models.toml", server, "a", "b")
        args = ["solve", "micro__windows-1", "--dataset", str(tmp / "tasks" / "instances.jsonl"),
                "-n", "2", "--concurrency", "2", "--model", "a", "--model", "b",
                "--models-file", str(models), "--sandbox", "docker", "--out", str(out)]  # fmt: skip
        held = router.hold("b", 2, answer=True)  # b's next action is an edit in its sandbox
        log = tmp / "first.log"
        child = start_quorum(args, log, ENV)
        wait_until(lambda: held.arrived.is_set() and "r0-t0" in ids(out / "candidates.jsonl"),
                   "a finished, b mid-way", child=child, log=log)  # fmt: skip
        started = time.monotonic()
        stop_engine()
        print(f"dockerd stopped in {time.monotonic() - started:.1f} s")
        if variant == "back":
            start_engine()
            print("dockerd back")
        held.released.set()
        print("first run: exit", child.wait(300))
        print("  " + "\n  ".join(log.read_text().strip().splitlines()[-4:]))
        if variant == "down":
            start_engine()
            print("dockerd back")
        exit_record = json.loads((out / "trajectories" / "r0-t1.json").read_text())["exit"]
        print("r0-t1 after the first run:", exit_record)
        router.reset()
        print("rerun: exit", run_quorum(args, tmp / "rerun.log", ENV), "calls", dict(router.calls))
    rows = map(json.loads, (out / "candidates.jsonl").open())
    statuses = {c["id"]: c["exit_status"] for c in rows}
    correct = "size + 1" in (out / "patch.diff").read_text()
    print("candidates", statuses, "| correct patch:", correct)
    print("containers of the first run left:", leftovers(docker.from_env(), child.pid))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("down", "back"):
        raise SystemExit("usage: engine_restart_check.py down|back")
    main(sys.argv[1])
