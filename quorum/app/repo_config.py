"""`.github/quorum.yml`: what a repository asks of Quorum, within what its installation allows.

The file is repository content, so untrusted: it is read through the project's one
validating loader (a problem names FILE:LINE), unknown keys are errors, and every bound is
the installation's — a repository may ask for less than the app's caps, never more."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envs.errors import LoadError
from envs.loader import load_document

CONFIG_PATH = ".github/quorum.yml"
ALWAYS_PROTECTED = ".github/workflows/"


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_usd: float | None = Field(None, ge=0, description="dollars one job may spend")
    budget_tokens: int | None = Field(None, ge=0, description="tokens one job may spend")
    n: int = Field(4, gt=0, description="solver trajectories per round")
    rounds: int = Field(1, gt=0, description="refinement rounds")
    solver: Literal["auto", "agent", "agentless", "mixed"] = "auto"
    models: list[str] = Field(default_factory=list, description="from the app's allowed list")
    setup: list[str] = Field(default_factory=list, description="commands installing the repo")
    test_command: str | None = Field(None, description="how the repository's tests run")
    protected_paths: list[str] = Field(
        default_factory=lambda: [ALWAYS_PROTECTED],
        description="path prefixes a patch may not touch; .github/workflows/ always is",
    )

    @field_validator("protected_paths")
    @classmethod
    def _workflows_stay_protected(cls, paths: list[str]) -> list[str]:
        return paths if ALWAYS_PROTECTED in paths else [ALWAYS_PROTECTED, *paths]


class Limits(BaseModel):
    """The installation's bounds on a repository's asks (from the app's settings)."""

    model_config = ConfigDict(extra="forbid")

    max_n: int = Field(8, gt=0)
    max_rounds: int = Field(3, gt=0)
    max_budget_usd: float | None = Field(None, ge=0)
    max_budget_tokens: int | None = Field(None, ge=0)
    allowed_models: Sequence[str] = ()


class ConfigError(LoadError):
    """A quorum.yml asking for what the installation does not allow."""


def load_repo_config(checkout: Path, limits: Limits) -> RepoConfig:
    """The repository's config at `checkout` (defaults when it has none), within `limits`."""
    path = checkout / CONFIG_PATH
    try:
        if path.is_symlink() or (path.exists() and not _inside(path, checkout)):
            # repository content: a link would have the app read a file of its own host
            raise ConfigError("is a symbolic link (or under one); Quorum reads it only as a "
                              "regular file of the repository", path=CONFIG_PATH,
                              hint="commit .github/quorum.yml itself, not a link to it")
        config = (
            load_document(path, RepoConfig, what="Quorum config", fmt="yaml")
            if path.is_file()
            else RepoConfig()
        )
        return bound(config, limits)
    except LoadError as exc:
        exc.path = Path(CONFIG_PATH)  # named as the repository knows it, not the clone's path
        raise


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def bound(config: RepoConfig, limits: Limits) -> RepoConfig:
    refused = [m for m in config.models if m not in limits.allowed_models]
    if refused:
        allowed = ", ".join(limits.allowed_models) or "none"
        raise ConfigError(
            f"models {', '.join(refused)} are not allowed for this installation",
            path=CONFIG_PATH, hint=f"use one of: {allowed} (or leave `models:` out)",
        )  # fmt: skip
    return config.model_copy(update={
        "n": min(config.n, limits.max_n),
        "rounds": min(config.rounds, limits.max_rounds),
        "budget_usd": _least(config.budget_usd, limits.max_budget_usd),
        "budget_tokens": _int(_least(config.budget_tokens, limits.max_budget_tokens)),
    })  # fmt: skip


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _least(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
