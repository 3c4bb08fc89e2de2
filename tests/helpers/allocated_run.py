"""A variant of a run directory as a non-fixed allocation policy leaves it: N = 6, four
solvers started, and a consensus stop while r0-t3 still ran (its trajectory saved without
an exit and no candidate line, as agent/trajectory.py and agent/rollout.py leave a
cancelled one), with allocation.json in the shape quorum/allocating.py records, its
decisions dumped from agent.allocation's own models."""

from __future__ import annotations

import json
from pathlib import Path

from agent.allocation import Launch, Stop, Wait

CANCELLED = "r0-t3"
STOP = ("stopped: 2 candidates in cluster 3f1a9c2e pass all 2 validated tests; "
        "saved 3 of 6 trajectories (1 cancelled while running)")  # fmt: skip


def allocated(run: Path, policy: str = "consensus") -> Path:
    options = json.loads((run / "options.json").read_text())
    options["rollout"]["n"] = 6
    options["allocation"] = policy
    (run / "options.json").write_text(json.dumps(options))
    lines = (run / "candidates.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["id"] != CANCELLED]
    (run / "candidates.jsonl").write_text("\n".join(kept) + "\n")
    traj_path = run / "trajectories" / f"{CANCELLED}.json"
    traj = json.loads(traj_path.read_text())
    traj["exit"] = None
    traj_path.write_text(json.dumps(traj))
    return write_record(run, policy)


def write_record(run: Path, policy: str = "consensus") -> Path:
    """allocation.json alone: four of N started, the stop while one still ran."""
    steps = [  # (finished, launched, running, spent, decision)
        (0, 0, 0, 0.0, Launch(k=2, reason="consensus: not yet")),
        (0, 2, 2, 0.0004, Wait(reason="consensus: not yet; 2 running")),
        (1, 2, 1, 0.0021, Launch(k=1, reason="consensus: not yet")),
        (2, 3, 1, 0.0043, Launch(k=1, reason="consensus: not yet")),
        (3, 4, 1, 0.0068, Stop(reason=STOP)),
    ]
    decisions = [{"finished": f, "launched": n, "running": r, "spent_usd": usd,
                  "decision": d.model_dump()} for f, n, r, usd, d in steps]  # fmt: skip
    record = {"policy": policy, "stopped": STOP, "decisions": decisions}
    (run / "allocation.json").write_text(json.dumps(record, indent=1))
    return run
