"""The agent's part of a run directory: trajectories/ and candidates.jsonl."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.redact import redact
from agent.trajectory import Trajectory
from envs.candidate import Candidate
from envs.errors import LoadError
from envs.loader import Loaded, drop_truncated_tail, load_records


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
        """Candidates by id; a later line for the same id wins (rescored or redone). A last
        line cut short by a crash is left out (`read_candidates` names it); any other bad
        line is a LoadError naming it."""
        return {c.id: c for c in self.read_candidates().records}

    def read_candidates(self) -> Loaded[Candidate]:
        if not self.candidates_file.exists():
            return Loaded(path=self.candidates_file)
        return load_records(
            self.candidates_file, Candidate, what="candidates file", name_field="id",
            tolerate_truncated_tail=True,
        )  # fmt: skip

    def resume(self) -> list[str]:
        """Before a run appends to an existing candidates.jsonl: check it loads, cut a
        truncated last line off (its trajectory is redone), and say so."""
        loaded = self.read_candidates()
        drop_truncated_tail(loaded)
        return [f"{note}; its trajectory is redone" for note in loaded.notes()]

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
        except LoadError:
            return None  # unreadable: the trajectory is redone
        return traj if traj.finished else None
