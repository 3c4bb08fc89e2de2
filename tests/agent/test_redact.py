from __future__ import annotations

from pathlib import Path

from agent.redact import REDACTED, redact
from agent.store import RunStore
from agent.trajectory import Step, Trajectory, TrajectorySpec
from envs.candidate import Candidate

SECRETS = [
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
    "ghp_" + "a1B2" * 9,
    "github_pat_" + "x" * 40,
    "hf_" + "Q" * 34,
    "AKIAABCDEFGHIJKLMNOP",
    "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow\n-----END RSA " + "PRIVATE KEY-----",
]


def test_known_secret_shapes_are_redacted_and_the_rest_kept() -> None:
    text = "key: " + " | ".join(SECRETS) + " | Authorization: Bearer abcdefghijklmnop123456"
    cleaned = redact(text)
    assert all(secret not in cleaned for secret in SECRETS)
    assert "Authorization: Bearer " + REDACTED in cleaned
    assert cleaned.startswith("key: ")
    ordinary = "def skip_test(): return 'sk-short' and ghp_short"
    assert redact(ordinary) == ordinary


def test_nothing_a_run_writes_keeps_a_secret(tmp_path: Path) -> None:
    spec = TrajectorySpec(id="t", task_id="x", model="m", temperature=0, prompt_variant="d")
    traj = Trajectory(spec=spec, steps=[Step(index=1, observation=f"env: {SECRETS[0]}")])
    traj.save(tmp_path)
    store = RunStore(tmp_path)
    store.add_candidate(Candidate(id="t", task_id="x", patch=f"+TOKEN = '{SECRETS[1]}'\n"))
    written = (tmp_path / "t.json").read_text() + store.candidates_file.read_text()
    assert SECRETS[0] not in written and SECRETS[1] not in written
    assert written.count(REDACTED) == 2
