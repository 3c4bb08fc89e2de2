"""A world for the job flow's tests: the stateful GitHub stand-in serving a tiny project (the
`pkg.calc.add` bug of tests/quorum/test_solve_pipeline.py), an App registered on it with a
fresh RSA key, the scripted OpenAI stand-in playing the models, and a `SolveHandler` built by
`from_settings` (real installation-token exchange, real clone, real Docker sandboxes)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agent.llm import Endpoint, ModelConfig
from agent.llm.prices import Price
from quorum.app.handler import EndpointFactory, SolveHandler
from quorum.app.settings import AppSettings
from quorum.app.store import Job
from quorum.app.triggers import Trigger
from quorum.sandboxes import Backend
from tests.envs.github_standin import GitHubStandIn, app_keypair
from tests.helpers.openai_standin import OpenAIStandIn

REPO, OWNER, NAME = "acme/widgets", "acme", "widgets"
APP_ID, INSTALLATION = 31337, 4242
SECRET = "whsec-" + "s3cr3t-webhook-value-0123456789"
MAINTAINER, READER = "maintainer", "passer-by"
ISSUE = 7
CONFIG = """\
# Quorum's settings for this repository
n: 2
models: [good-a, good-b]
setup:
  - pip install -q pytest
"""
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
# Fixed dates: the same project is the same commits in every test, so its Docker snapshot
# (with `pip install pytest`) is built once and then found by its content key.
_DATES = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def tiny_project(root: Path, config: str = CONFIG) -> Path:
    """pkg/calc.py's `add` subtracts; a `feature` branch (for `/quorum fix`) adds `mul`."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "README.md").write_text("calc\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (root / ".github" / "quorum.yml").write_text(config)
    env = {**os.environ, **_DATES}

    def git(*args: str) -> None:
        subprocess.run([*GIT, "-C", str(root), *args], check=True, env=env)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "init")
    git("checkout", "-qb", "feature")
    (root / "pkg" / "mul.py").write_text("def mul(a, b):\n    return a * b\n")
    git("add", "-A")
    git("commit", "-qm", "mul")
    git("checkout", "-q", "main")
    return root


@dataclass
class World:
    github: GitHubStandIn
    models: OpenAIStandIn
    settings: AppSettings
    handler: SolveHandler
    private_pem: str
    main_sha: str
    tmp: Path

    def job(self, job_id: int = 1, **trigger: Any) -> Job:
        fields: dict[str, Any] = {"kind": "solve", "installation_id": INSTALLATION,
                                  "repo": REPO, "number": ISSUE, "sender": MAINTAINER,
                                  "sender_type": "User", "via": "label", **trigger}
        now = time.time()
        return Job(id=job_id, delivery_id=f"delivery-{job_id}", trigger=Trigger(**fields),
                   state="running", attempts=1, created_at=now, updated_at=now)

    def secrets(self) -> list[str]:
        """What must never appear anywhere: every installation token the stand-in issued,
        the App's private key (whole and each line of its body), the webhook secret."""
        key_lines = [ln for ln in self.private_pem.splitlines() if ln and "-----" not in ln]
        return [*self.github.tokens, self.private_pem.strip(), *key_lines, SECRET]


def scripted_endpoints(server: OpenAIStandIn, *, logprobs: bool = False) -> EndpointFactory:
    """Model names -> endpoints on the scripted server, priced so dollars are spent
    (`logprobs`: they serve a verifier)."""

    @contextmanager
    def factory(names: Sequence[str]) -> Iterator[list[Endpoint]]:
        yield [ModelConfig(name=n, base_url=server.base_url, api_key_env=None,
                           prices=Price(input=1.0, output=2.0),
                           supports_logprobs=logprobs).resolve({}) for n in names]

    return factory


@contextmanager
def world(tmp_path: Path, *, config: str = CONFIG, monthly_usd: float | None = 5.0,
          monthly_tokens: int | None = 2_000_000, sandbox: Backend = "docker",
          verifier_model: str | None = None) -> Iterator[World]:
    private, public = app_keypair()
    key_path = tmp_path / "app.pem"
    key_path.write_text(private)
    project = tiny_project(tmp_path / "project", config)
    settings = AppSettings(
        app_id=APP_ID, private_key_path=key_path, private_key_pem=SecretStr(private),
        webhook_secret=SecretStr(SECRET), db_path=tmp_path / "app.db",
        workdir=tmp_path / "work", model="good-a", allowed_models=("good-a", "good-b", "bad"),
        monthly_usd=monthly_usd, monthly_tokens=monthly_tokens, poll_interval_s=0.1,
        verifier_model=verifier_model,
    )  # fmt: skip
    with GitHubStandIn() as github, OpenAIStandIn() as models:
        github.add_app(APP_ID, public)
        github.add_installation(INSTALLATION, APP_ID)
        main_sha = github.add_repo(OWNER, NAME, project)
        github.set_permission(REPO, MAINTAINER, "write")
        github.set_permission(REPO, READER, "read")
        settings = settings.model_copy(update={"github_api_url": github.base_url})
        handler = SolveHandler.from_settings(
            settings, {}, endpoints=scripted_endpoints(models),
            verifiers=scripted_endpoints(models, logprobs=True), sandbox=sandbox)
        yield World(github, models, settings, handler, private, main_sha, tmp_path)


def texts_github_holds(github: GitHubStandIn) -> list[str]:
    """Every text the App wrote to GitHub: comments, pull requests, check runs, commits."""
    out: list[str] = []
    out += [str(c.get("body")) for c in github.comments]
    out += [f"{p.get('title')}\n{p.get('body')}" for p in github.pulls]
    out += [repr(r) for r in github.check_runs] + [repr(u) for u in github.check_run_updates]
    out += [repr(c) for c in github.commits]
    return out
