"""QUORUM_APP_VERIFIER_MODEL: the App's jobs score each unique patch with the execution-free
verifier (YES/NO logprobs from the scripted stand-in), and the pull request shows the scores;
the check run shows trajectories done and tests run while the job runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from quorum.app.handler import SolveHandler
from quorum.app.settings import AppSettings
from tests.agent.scripted import solver_script
from tests.app.handler_kit import ISSUE, REPO, world
from tests.helpers.openai_standin import Reply


@pytest.mark.docker
def test_the_verifiers_scores_reach_the_pull_request_body(tmp_path: Path) -> None:
    with world(tmp_path, verifier_model="judge") as w:
        w.github.add_issue(REPO, ISSUE, title="add(1, 2) returns -1",
                           body="pkg.calc.add subtracts instead of adding.")
        w.models.script_for("good-a", *solver_script("add(1, 2) == 3", "a + b"))
        w.models.script_for("good-b", *solver_script("add(5, 5) == 10", "b + a"))
        w.models.script_for("judge", *[Reply.yes_no(0.87, 0.13)] * 4)
        outcome = asyncio.run(w.handler(w.job(), resumed=False))
        assert outcome.state == "done" and outcome.note.startswith("pull #"), outcome
        judged = [r for r in w.models.requests if r.body.get("model") == "judge"]
        assert judged and all(r.body.get("logprobs") for r in judged)
        [pull] = w.github.pulls
        rows = [ln for ln in pull["body"].splitlines() if re.match(r"\| (\*\*)?r0-t", ln)]
        assert rows and all("| 0.87 |" in row for row in rows), rows  # the verifier column
        progress = [u["output"]["summary"] for u in w.github.check_run_updates
                    if u.get("status") == "in_progress" and "output" in u]
        counts = [re.search(r"(\d+) of 2 trajectories done, (\d+) tests run", s)
                  for s in progress]
        seen = [(int(m[1]), int(m[2])) for m in counts if m]
        assert (2, 0) not in seen[-1:] and seen[-1][0] == 2 and seen[-1][1] > 0, progress
        assert any(done == 2 and tests > 0 for done, tests in seen[:-1]), progress  # rollouts'
        assert w.github.violations == []


def test_the_verifier_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n")
    env = {"QUORUM_APP_ID": "1", "QUORUM_APP_PRIVATE_KEY_PATH": str(key),
           "QUORUM_WEBHOOK_SECRET": "s", "QUORUM_APP_DB": str(tmp_path / "db")}
    assert AppSettings.from_env(env).verifier_model is None
    env["QUORUM_APP_VERIFIER_MODEL"] = " gpt-4o-mini "
    assert AppSettings.from_env(env).verifier_model == "gpt-4o-mini"


def test_the_verifier_is_named_in_the_apps_models_file(tmp_path: Path) -> None:
    """`from_settings`' own factories (no scripted override): a named verifier resolves
    through QUORUM_APP_MODELS_FILE, logprobs and all; without it, it is refused plainly."""
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n")
    models = tmp_path / "models.toml"
    models.write_text('[models.judge]\nname = "judge-v1"\nbase_url = "http://127.0.0.1:9/v1"\n'
                      'api_key_env = "JUDGE_KEY"\nsupports_logprobs = true\nfree = true\n')
    env = {"QUORUM_APP_ID": "1", "QUORUM_APP_PRIVATE_KEY_PATH": str(key),
           "QUORUM_WEBHOOK_SECRET": "s", "QUORUM_APP_DB": str(tmp_path / "db"),
           "QUORUM_APP_WORKDIR": str(tmp_path / "work"), "QUORUM_APP_VERIFIER_MODEL": "judge",
           "QUORUM_APP_MODELS_FILE": str(models)}
    settings = AppSettings.from_env(env)
    assert settings.models_file == models
    handler = SolveHandler.from_settings(settings, {"JUDGE_KEY": "sk-judge"})
    with handler.verifiers(["judge"]) as [judge]:
        assert judge.config.name == "judge-v1" and judge.config.supports_logprobs
        assert judge.base_url == "http://127.0.0.1:9/v1"
        assert judge.api_key.get_secret_value() == "sk-judge"
