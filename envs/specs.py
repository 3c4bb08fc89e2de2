"""How to install and test a repository at a version: the `swebench` package's own specs
(release 4.1.0, `MAP_REPO_VERSION_TO_SPECS`) mapped onto Quorum's Debian base images.

The official harness builds a conda environment per (repo, version). Quorum has no conda:
it uses the Debian image whose system Python matches the spec (3.9: bullseye, 3.11:
bookworm) and a venv at /opt/venv. A spec that needs another Python or a conda environment
file is `supported=False` with the reason and `substitutable` set; `resolve_spec`, given the
repository's files, substitutes what the project's own metadata allows (envs.substitution)
and marks the spec `substituted`. Specs with no Python at all stay unsupported.

Instances whose `repo` is a local path (a team's own instances, the bundled micro-tasks)
get a default spec: Python 3.11, pytest, `pytest -rA`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from envs.instances import Instance
from envs.repos import is_local_path
from envs.requirements import era_pins
from envs.substitution import (
    METADATA_FILES,
    choose_python,
    declared_pythons,
    describe,
    pip_part_of_environment_yml,
)

VENV = "/opt/venv"
ACTIVATE = f". {VENV}/bin/activate"
SUITE_FOR_PYTHON = {"3.9": "bullseye", "3.11": "bookworm"}  # the Debian suites' python3
LOCAL_TEST_CMD = "python -m pytest -rA"  # -m: the repo root on sys.path, as for a checkout


class EnvSpec(BaseModel):
    """Everything needed to build an instance's environment and run its tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str
    version: str
    supported: bool = True
    reason: str = Field("", description="why it is not supported, in plain words")
    python: str = ""
    suite: str = Field("", description="Quorum base image suite (bookworm, bullseye)")
    packages: str = Field("", description="spec `packages`: requirements.txt, a package list")
    requirements_paths: list[str] = Field(
        default_factory=list, description="where requirements.txt lives at the setup commit"
    )
    pip_packages: list[str] = Field(default_factory=list)
    pre_install: list[str] = Field(default_factory=list, description="run before install")
    install: str = Field("", description="installs the repository itself (run again at eval)")
    eval_commands: list[str] = Field(default_factory=list, description="run before the tests")
    test_cmd: str = LOCAL_TEST_CMD
    parser: str = Field("pytest", description="log parser: a repo name in swebench, or pytest")
    official: bool = Field(True, description="from the swebench package, not a local default")
    substitutable: list[Literal["python", "environment.yml"]] = Field(
        default_factory=list, description="what resolve_spec may substitute from the repo's files")
    substituted: str = Field(
        "", description="what was substituted and why (empty: the official spec as it is)")
    conda_pip: list[str] = Field(
        default_factory=list, description="environment.yml's pip-installable part, one by one")
    activate: str = Field(ACTIVATE, description="shell command that activates the environment "
                          "before the install and test commands (the image's layout)")

    @property
    def key(self) -> str:
        """Content key of the environment (not the instance): same spec, same image."""
        recipe = self.model_dump(exclude={"eval_commands", "test_cmd", "parser", "official",
                                          "substitutable", "substituted", "activate"})
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def spec_for(instance: Instance, read: Callable[[str], str | None] | None = None) -> EnvSpec:
    """`read(path)`: a file of the repository at the environment-setup commit (None when
    absent); with it an unsupported spec is substituted where the project allows."""
    if is_local_path(instance.repo):
        return local_spec(instance)
    spec = swebench_spec(instance.repo, instance.version or "")
    return resolve_spec(spec, read) if read is not None else spec


def local_spec(instance: Instance) -> EnvSpec:
    return EnvSpec(repo=instance.repo, version=instance.version or "", python="3.11",
                   suite="bookworm", packages="pytest", official=False)


def swebench_spec(repo: str, version: str, *, built_here: bool = True) -> EnvSpec:
    """`built_here`: the environment is built by Quorum today (editable installs made as
    the harness's older tools made them: `compat_editable`; era pins: envs.requirements);
    False for an official image, whose commands run as published (its pip may predate
    `--config-settings`)."""
    try:
        from swebench.harness.constants import (
            MAP_REPO_TO_INSTALL,
            MAP_REPO_TO_REQS_PATHS,
            MAP_REPO_VERSION_TO_SPECS,
        )
    except ImportError:
        return _unsupported(repo, version, "the swebench package is not installed "
                            "(pip install 'quorum[swebench]')")
    raw: dict[str, Any] | None = MAP_REPO_VERSION_TO_SPECS.get(repo, {}).get(version)
    if raw is None:
        return _unsupported(repo, version, f"swebench 4.1.0 has no spec for {repo} {version}")
    python = str(raw.get("python") or "")
    needs = _substitutable(raw, python)
    pre_install = list(raw.get("pre_install", []))
    if repo in MAP_REPO_TO_INSTALL:  # repo-wide step the harness runs before pre_install
        pre_install.insert(0, MAP_REPO_TO_INSTALL[repo])
    test_cmd = raw.get("test_cmd") or LOCAL_TEST_CMD
    spec = EnvSpec(
        repo=repo,
        version=version,
        supported=not needs,
        reason=_needs_reason(needs, python),
        substitutable=needs,
        python=python,
        suite=SUITE_FOR_PYTHON.get(python, ""),
        packages=str(raw.get("packages", "")),
        requirements_paths=list(MAP_REPO_TO_REQS_PATHS.get(repo, [])),
        pip_packages=[*raw.get("pip_packages", []), *(era_pins(repo, version)
                                                      if built_here else [])],
        pre_install=pre_install,
        install=(compat_editable if built_here else str)(str(raw.get("install", ""))),
        eval_commands=list(raw.get("eval_commands", [])),
        test_cmd=test_cmd[-1] if isinstance(test_cmd, list) else test_cmd,
        parser=repo,
    )
    problem = _why_unsupported(raw, python)
    if problem:  # the test fields stay: an official image has the environment built
        return spec.model_copy(update={"supported": False, "reason": problem,
                                       "substitutable": [], "suite": ""})
    return spec


def compat_editable(install: str) -> str:
    """An editable install made the way the harness's own (older pip and setuptools) made
    it: the source tree on sys.path. Today's setuptools installs `-e` through an import
    hook instead, under which pylint's plain `pytest` finds no checker (pylint-7080).
    `--no-use-pep517` is already the path-based legacy install, and config settings would
    turn PEP 517 back on."""
    words = install.split()
    editable = "pip" in words and "install" in words and ("-e" in words or "--editable" in words)
    if not editable or "--no-use-pep517" in words or "editable_mode" in install:
        return install
    return f"{install} --config-settings editable_mode=compat"


def official_image_spec(repo: str, version: str, activate: str) -> EnvSpec:
    """The spec of an instance graded in its official image, which has its environment built
    already: the swebench spec's install and test commands as they are, whatever Python or
    conda step it needs (no substitution), activated as that image's layout says."""
    spec = swebench_spec(repo, version, built_here=False)
    if spec.parser != repo or spec.test_cmd == LOCAL_TEST_CMD:  # no spec, or no test command
        return spec
    if not spec.python:  # other languages' images have no conda environment to activate
        return spec.model_copy(update={"supported": False, "reason": "not a Python spec: "
                                       "its official image has another layout"})
    return spec.model_copy(update={"supported": True, "reason": "", "substitutable": [],
                                   "activate": activate})


def _why_unsupported(raw: dict[str, Any], python: str) -> str:
    if not raw.get("test_cmd"):
        return "the spec has no test command"
    if not python:
        return "not a Python spec (no `python` field): other languages need their own images"
    if "conda" in " ".join([*raw.get("pre_install", []), str(raw.get("install", ""))]):
        return "its install steps call conda, which is not available"
    return ""


def _substitutable(raw: dict[str, Any], python: str) -> list[Literal["python", "environment.yml"]]:
    needs: list[Literal["python", "environment.yml"]] = []
    if python not in SUITE_FOR_PYTHON:
        needs.append("python")
    if raw.get("packages") == "environment.yml":
        needs.append("environment.yml")
    return needs


def _needs_reason(needs: list[str], python: str) -> str:
    parts = []
    if "python" in needs:
        parts.append(f"needs Python {python}; Quorum's bases ship only 3.9 (bullseye) and "
                     "3.11 (bookworm), and without conda no other interpreter is installed")
    if "environment.yml" in needs:
        parts.append("installs from a conda environment.yml; conda is not available")
    return "; ".join(parts)


def resolve_spec(spec: EnvSpec, read: Callable[[str], str | None]) -> EnvSpec:
    """The spec with what it needs substituted from the repository's own files (module
    doc), or unchanged with the reason made precise when the project allows no substitute."""
    if spec.supported or not spec.substitutable:
        return spec
    python, notes = spec.python, []
    if "python" in spec.substitutable:
        declared = declared_pythons({path: read(path) for path in METADATA_FILES})
        chosen = choose_python(spec.python, declared, SUITE_FOR_PYTHON)
        if chosen is None:
            return spec.model_copy(update={
                "reason": f"{spec.reason}; {describe(declared)}, none of them available"})
        python = chosen
        notes.append(f"Python {spec.python} -> {chosen} ({describe(declared, chosen)})")
    conda_pip: list[str] = []
    if "environment.yml" in spec.substitutable:
        text = next((t for t in map(read, _env_yml_paths(spec.repo)) if t), None)
        if text is None:
            return spec.model_copy(update={
                "reason": f"{spec.reason}; no environment.yml found at the setup commit"})
        conda_pip = pip_part_of_environment_yml(text)
        notes.append(f"environment.yml -> its pip-installable part ({len(conda_pip)} "
                     "requirements, each tried on its own)")
    return spec.model_copy(update={
        "supported": True, "reason": "", "python": python, "suite": SUITE_FOR_PYTHON[python],
        "substituted": "; ".join(notes), "conda_pip": conda_pip,
        "packages": "" if conda_pip or "environment.yml" in spec.substitutable
        else spec.packages,
    })  # fmt: skip


def _env_yml_paths(repo: str) -> list[str]:
    try:
        from swebench.harness.constants import MAP_REPO_TO_ENV_YML_PATHS
    except ImportError:
        return ["environment.yml"]
    return list(MAP_REPO_TO_ENV_YML_PATHS.get(repo, ["environment.yml"]))


def _unsupported(repo: str, version: str, reason: str, *, python: str = "") -> EnvSpec:
    return EnvSpec(repo=repo, version=version, supported=False, reason=reason, python=python)


def support_table() -> dict[str, int]:
    """How many swebench specs are supported, and why the others are not (for the README).
    Substitutable specs count as such: whether a project allows the substitute is read
    from its files (`resolve_spec`), per instance."""
    from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS

    counts: dict[str, int] = {}
    for repo, versions in MAP_REPO_VERSION_TO_SPECS.items():
        for version in versions:
            spec = swebench_spec(repo, version)
            if spec.supported:
                key = "supported"
            elif spec.substitutable:
                key = "substitutable: " + ", ".join(spec.substitutable)
            else:
                key = spec.reason.split(";")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts
