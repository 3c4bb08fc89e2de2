"""The agent's part of a run directory: trajectories/ and candidates.jsonl."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.redact import redact
from agent.trajectory import Trajectory
from envs.candidate import Candidate


class RunStore:
    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir
        self.trajectories = run_dir / "trajectories"
        self.candidates_file = run_dir / "candidates.jsonl"
        self._lock = threading.Lock()
        self.trajectories.mkdir(parents=True, exist_ok=True)

    def add_candidate(self, candidate: Candidate) -> None:
        """Append one line; a line is whole or absent, so a crash loses at most the last."""
        line = redact(candidate.model_dump_json()) + "\n"
        with self._lock, self.candidates_file.open("a") as out:
            out.write(line)
            out.flush()

    def candidates(self) -> dict[str, Candidate]:
        """Candidates by id; a later line for the same id wins (rescored or redone)."""
        found: dict[str, Candidate] = {}
        if not self.candidates_file.exists():
            return found
        for line in self.candidates_file.read_text().splitlines():
            if not line.strip():
                continue
            try:
                cand = Candidate.model_validate_json(line)
            except ValueError:
                continue  # a line cut short by a crash
            found[cand.id] = cand
        return found

    def rewrite_candidates(self, candidates: list[Candidate]) -> None:
        tmp = self.candidates_file.with_suffix(".tmp")
        tmp.write_text("".join(redact(c.model_dump_json()) + "\n" for c in candidates))
        tmp.replace(self.candidates_file)

    def finished_trajectory(self, trajectory_id: str) -> Trajectory | None:
        path = self.trajectories / f"{trajectory_id}.json"
        if not path.exists():
            return None
        try:
            traj = Trajectory.load(path)
        except ValueError:
            return None
        return traj if traj.finished else None
