"""`.github/quorum.yml`: defaults when absent, FILE:LINE when wrong, never above the caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.errors import LoadError
from quorum.app.repo_config import Limits, RepoConfig, load_repo_config
from quorum.errors import format_error

LIMITS = Limits(max_n=6, max_rounds=2, max_budget_usd=5.0, max_budget_tokens=100_000,
                allowed_models=["small", "large"])  # fmt: skip


def _write(root: Path, text: str) -> Path:
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "quorum.yml").write_text(text)
    return root


def test_an_absent_file_gives_the_defaults_within_the_caps(tmp_path: Path) -> None:
    config = load_repo_config(tmp_path, LIMITS)
    assert config.n == 4 and config.protected_paths == [".github/workflows/"]
    assert config.budget_usd == 5.0 and config.budget_tokens == 100_000


def test_a_config_cannot_raise_the_installation_caps(tmp_path: Path) -> None:
    _write(tmp_path, "n: 50\nrounds: 9\nbudget_usd: 100\nbudget_tokens: 10\n"
                     "protected_paths: [secrets/]\nsetup: [pip install -e .]\n")
    config = load_repo_config(tmp_path, LIMITS)
    assert (config.n, config.rounds, config.budget_usd, config.budget_tokens) == (6, 2, 5.0, 10)
    assert config.protected_paths == [".github/workflows/", "secrets/"]  # always protected
    assert config.setup == ["pip install -e ."]


def test_an_unknown_key_names_the_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "n: 2\nbudget_dollars: 3\n")
    with pytest.raises(LoadError) as caught:
        load_repo_config(tmp_path, LIMITS)
    text = format_error(caught.value)
    assert text.startswith(".github/quorum.yml:2:") and "budget_dollars" in text
    assert str(tmp_path) not in text  # the clone's path is the app's business


def test_a_model_outside_the_allowed_list_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "models: [small, gpt-huge]\n")
    with pytest.raises(LoadError) as caught:
        load_repo_config(tmp_path, LIMITS)
    assert "gpt-huge" in str(caught.value) and "small, large" in str(caught.value)
    _write(tmp_path, "models: [large]\n")
    assert load_repo_config(tmp_path, LIMITS).models == ["large"]


def test_the_model_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError):
        RepoConfig.model_validate({"n": 1, "push_to": "main"})


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_config_that_is_a_link_out_of_the_repository_is_refused_unread(
        tmp_path: Path, link: str) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "quorum.yml").write_text("n: 2\nhost_secret_key: 1\n")  # a file of the app's host
    repo = tmp_path / "repo"
    repo.mkdir()
    if link == "file":
        (repo / ".github").mkdir()
        (repo / ".github" / "quorum.yml").symlink_to(host / "quorum.yml")
    else:
        (repo / ".github").symlink_to(host)
    with pytest.raises(LoadError) as caught:
        load_repo_config(repo, LIMITS)
    text = format_error(caught.value)
    assert text.startswith(".github/quorum.yml: is a symbolic link")
    assert "host_secret_key" not in text and str(host) not in text
