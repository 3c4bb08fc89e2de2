"""A task: one issue in one repository at one commit, however it was obtained."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HiddenTests(BaseModel):
    """Tests that grade a patch. Never shown to an agent, never used to select."""

    model_config = ConfigDict(extra="forbid")

    fail_to_pass: list[str] = Field(default_factory=list, description="test ids that must pass")
    pass_to_pass: list[str] = Field(default_factory=list, description="must keep passing")
    test_patch: str = Field("", description="diff adding the grading tests")
    test_command: str = Field("python -m pytest -q -rA", description="runs the test ids")


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id: the SWE-bench instance id, or a slug")
    repo: str = Field(description="a local repository path, a git URL, or owner/name")
    base_commit: str | None = Field(None, description="commit to start from (None: HEAD)")
    problem_statement: str
    hints: str = ""
    source: Literal["local", "github", "swebench"] = "local"
    url: str | None = Field(None, description="where the issue came from, if anywhere")
    version: str | None = None
    language: str = "python"
    base_image_suite: str = Field("bookworm", description="base image the snapshot builds on")
    setup: list[str] = Field(
        default_factory=list, description="shell commands that prepare the environment"
    )
    image: str | None = Field(
        None,
        description="a prepared Docker image (repository at the base commit, environment "
        "installed) to start sandboxes from, instead of building a snapshot with `setup`",
    )
    test_command: str = Field(
        "python -m pytest -q", description="how the repository's own tests are run"
    )
    hidden: HiddenTests | None = Field(None, description="grading only; agents never see it")
