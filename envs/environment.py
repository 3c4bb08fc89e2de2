"""Docker images for an instance, in two content-keyed layers, each built once:

1. the environment image per spec (base image + venv + the spec's dependencies), shared by
   every instance of that (repo, version);
2. the instance snapshot: environment image + repository at the base commit + install.

A substituted spec (envs.substitution: another interpreter, environment.yml's pip part)
makes an instance image only once it is validated: its gold patch resolves there and its
empty patch does not (graded once after the build, the verdict cached by instance and spec).

Both are `DockerProvider.snapshot`s, so a present tag is reused and nothing is rebuilt.
Build output goes to the log file given; a failure raises `EnvBuildError` naming it.

`images="official"` takes the harness's published instance image instead (pulled from
`namespace`, made history-free: envs.official_images), `"auto"` that where the registry has
it and a build where not; `prepare` says which an instance got."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict

from envs.checkout import checkout_instance
from envs.errors import TaskSourceError
from envs.gitcmd import GitFailed, commit_all, git
from envs.instances import Instance
from envs.official_images import ACTIVATE as OFFICIAL_ACTIVATE
from envs.official_images import (
    DEFAULT_NAMESPACE,
    ImageSource,
    OfficialImageUnavailable,
    check_namespace,
    history_free_repo,
    official_image_ref,
    pull_official,
    snapshot_spec,
)
from envs.repos import find_mirror, is_local_path
from envs.requirements import requirements_at
from envs.sources.swebench import task_from_instance
from envs.specs import ACTIVATE, VENV, EnvSpec, official_image_spec, spec_for
from envs.task import Task
from sandbox.config import DockerSandboxConfig, SnapshotSpec
from sandbox.errors import QuorumError
from sandbox.images import ensure_base_image
from sandbox.provider import DockerProvider

HEREDOC = "EOF_QUORUM_REQS_5917"
VALIDATION = "grade-1"  # bump when grading changes what a verdict means: re-validates
# One Docker engine per machine: builds of the same image wait for each other machine-wide.
NODE_LOCKS = Path(tempfile.gettempdir()) / "quorum-locks"


class EnvBuildError(QuorumError):
    """An environment or instance image could not be built; `log` holds the output."""

    def __init__(self, message: str, *, log: Path | None = None,
                 hint: str | None = None) -> None:
        where = f"see {log}" if log else None
        super().__init__(message, hint="; ".join(h for h in (hint, where) if h) or None)
        self.log = log


class PreparedImage(BaseModel):
    """The image an instance runs in, the spec its commands follow there, and where the
    image came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str
    spec: EnvSpec
    source: Literal["official", "build"]
    repo: Path | None = None  # the host repository it holds (official: copied out of it)


class EnvironmentBuilder:
    """Builds (or finds) the image an instance is graded or solved in. Thread-safe: two
    workers asking for the same environment wait for one build."""

    def __init__(self, provider: DockerProvider | None, *, cache_dir: Path,
                 mirror_dir: Path | None = None, ca_bundle: Path | None = None,
                 setup_timeout_s: float = 1800, images: ImageSource = "build",
                 namespace: str = DEFAULT_NAMESPACE) -> None:
        self.images = images
        self.namespace = check_namespace(namespace)
        self._unreachable = ""  # why the official images' registry is out of reach
        self.provider = provider
        self.cache_dir = Path(cache_dir)
        self.mirror_dir = mirror_dir
        self.ca_bundle = ca_bundle
        self.setup_timeout_s = setup_timeout_s
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def _docker(self) -> DockerProvider:
        if self.provider is None:
            raise QuorumError("building an environment image needs Docker",
                              hint="run with --sandbox docker")
        return self.provider

    def spec_for(self, instance: Instance) -> EnvSpec:
        """The instance's spec, substituted where its repository's files allow (read at the
        environment-setup commit of the mirror or clone)."""
        try:
            source = self.source_repo(instance)
        except QuorumError:
            return spec_for(instance)  # no repository: the build reports why
        commit = instance.environment_setup_commit or instance.base_commit

        def read(path: str) -> str | None:
            try:
                return git("show", f"{commit}:{path}", cwd=source)
            except (GitFailed, UnicodeDecodeError):  # absent, or not text: declares nothing
                return None

        return spec_for(instance, read)

    def prepare(self, instance: Instance, log: Path, *, gold: Instance | None = None,
                adjust: Callable[[EnvSpec], EnvSpec] | None = None) -> PreparedImage:
        """The instance's image as `images` says: official (or fail), build, or auto (the
        official one where the registry has it, else a build; the log says why).
        `adjust` changes the spec of a build (an official image is used as published)."""
        if self.images != "build":
            try:
                return self._official(instance, log)
            except OfficialImageUnavailable as exc:
                if self.images == "official":
                    raise EnvBuildError(f"{instance.instance_id}: {exc}", log=log,
                                        hint="--images auto builds an image where the "
                                        "registry has none") from exc
                with log.open("a") as out:
                    _writer(out)(f"{exc}; --images auto: building the environment instead")
        spec = self.spec_for(instance)
        if adjust is not None:
            spec = adjust(spec)
        return PreparedImage(image=self.instance_image(instance, spec, log, gold=gold),
                             spec=spec, source="build")

    def _official(self, instance: Instance, log: Path) -> PreparedImage:
        if is_local_path(instance.repo):
            raise OfficialImageUnavailable(f"{instance.repo} is a local repository, not a "
                                           "SWE-bench one: no official image")
        spec = official_image_spec(instance.repo, instance.version or "", OFFICIAL_ACTIVATE)
        if not spec.supported:
            raise OfficialImageUnavailable(f"no official image to use: {spec.reason}")
        if self._unreachable:  # asked once already in this run: no second wait per instance
            raise OfficialImageUnavailable(self._unreachable, unreachable=True)
        ref = official_image_ref(instance.instance_id, self.namespace)
        client = self._docker.client
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out, self._lock_for(f"official-{instance.instance_id}",
                                                  node_wide=True):
            say = _writer(out)
            try:
                pull_official(client, ref, say)
                repo = history_free_repo(client, ref, instance.base_commit,
                                         self.cache_dir / "official-repos" / instance.instance_id)
                image = self._docker.snapshot(
                    snapshot_spec(client, ref, repo, instance.base_commit,
                                  ca_bundle=self.ca_bundle,
                                  setup_timeout_s=self.setup_timeout_s), progress=say)
            except OfficialImageUnavailable as exc:
                say(str(exc))
                if exc.unreachable:
                    self._unreachable = f"the registry of {self.namespace} did not answer: {exc}"
                raise
            except QuorumError as exc:
                say(f"FAILED: {exc}")
                raise EnvBuildError(f"{instance.instance_id}: official image {ref}: "
                                    f"{str(exc).splitlines()[0]}", log=log) from exc
        return PreparedImage(image=image, spec=spec, source="official", repo=repo)

    def instance_image(self, instance: Instance, spec: EnvSpec, log: Path, *,
                       gold: Instance | None = None) -> str:
        """`gold`: the instance with its gold patch and tests, when `instance` is a copy
        with them hidden (a substituted spec is validated with them)."""
        if not spec.supported:
            raise EnvBuildError(f"{spec.repo} {spec.version}: unsupported: {spec.reason}")
        image = self._instance_image(instance, spec, log)
        if spec.substituted:
            self._validate(gold or instance, spec, image, log)
        return image

    def _instance_image(self, instance: Instance, spec: EnvSpec, log: Path) -> str:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            say = _writer(out)
            try:
                source = self.source_repo(instance)
                env_image = self._locked(f"env-{spec.key}",
                                         lambda: self.env_image(instance, spec, source, say))
                setup = [f"{ACTIVATE} && {cmd}" for cmd in [*spec.pre_install, spec.install]
                         if cmd] + _venv_on_path() + current_env_pythons(spec)
                return self._locked(instance.instance_id, lambda: self._docker.snapshot(
                    SnapshotSpec(base_image=env_image, source=source,
                                 commit=instance.base_commit, setup=setup,
                                 ca_bundle=self.ca_bundle,
                                 setup_timeout_s=self.setup_timeout_s),
                    progress=say))
            except QuorumError as exc:
                say(f"FAILED: {exc}")
                raise EnvBuildError(f"{instance.instance_id}: environment build failed: "
                                    f"{str(exc).splitlines()[0]}", log=log) from exc

    def env_image(self, instance: Instance, spec: EnvSpec, source: Path,
                  say: Callable[[str], None]) -> str:
        base = ensure_base_image(self._docker.client, spec.suite, progress=say)
        # The image holds no repository: the instance layer brings its own.
        commands = [*env_commands(instance, spec, source),
                    "rm -rf /workspace /tmp/requirements.txt && mkdir -p /workspace"]
        return self._docker.snapshot(
            SnapshotSpec(base_image=base, source=self._empty_repo(), setup=commands,
                         ca_bundle=self.ca_bundle, setup_timeout_s=self.setup_timeout_s,
                         kind="environment"),
            progress=say)

    def solve_task(self, instance: Instance, log: Path, *, in_docker: bool = True) -> Task:
        """The task an agent solves this instance in: sandboxes start from the instance
        image (built once and shared with grading), the repository on this host. Without
        Docker there is no environment to install into: the bare repository."""
        if not in_docker:
            return task_from_instance(instance, repo=str(self.source_repo(instance)))
        prepared = self.prepare(instance, log)
        repo = prepared.repo or self.source_repo(instance)
        task = task_from_instance(instance, repo=str(repo))
        return task.model_copy(update={
            "image": prepared.image, "base_image_suite": prepared.spec.suite or
            task.base_image_suite, "test_command": prepared.spec.test_cmd})

    def source_repo(self, instance: Instance) -> Path:
        """A git repository on this host holding the base commit: the mirror, the local
        repository, or a clone/materialisation in the cache."""
        if self.mirror_dir is not None and not is_local_path(instance.repo):
            found = find_mirror(self.mirror_dir, instance.repo)
            if found is None:
                raise TaskSourceError(f"no mirror of {instance.repo} in {self.mirror_dir}")
            return found
        path = Path(instance.repo).expanduser()
        if is_local_path(instance.repo) and ((path / ".git").exists() or (path / "HEAD").exists()):
            return path
        dest = self.cache_dir / "repos" / instance.instance_id
        with self._lock_for(f"repo-{instance.instance_id}"):
            if not dest.exists():
                checkout_instance(instance, dest, mirror_dir=self.mirror_dir)
        return dest

    def _validate(self, instance: Instance, spec: EnvSpec, image: str, log: Path) -> None:
        """A substituted environment counts only if the gold patch resolves in it and the
        empty patch does not; graded once, the verdicts cached by instance, whole spec and
        grading version. Only verdicts of completed runs are kept: a timeout is retried."""
        from envs.grading import grade  # grading imports specs; keep the build light

        if not instance.patch.strip() or not instance.fail_to_pass:
            raise EnvBuildError(f"{instance.instance_id}: a substituted environment "
                                f"({spec.substituted}) needs the gold patch and FAIL_TO_PASS "
                                "tests to be validated, and this instance has none", log=log)
        # Keyed on the whole spec (grading's fields too) and the grading recipe's version.
        recipe = spec.model_dump_json(exclude={"activate"})  # built images: always the venv
        key = hashlib.sha256(f"{VALIDATION}:{recipe}".encode()).hexdigest()[:16]
        record = self.cache_dir / "validation" / f"{instance.instance_id}-{key}.json"
        with self._lock_for(f"validate-{instance.instance_id}-{key}"):
            verdicts = _read_verdicts(record)
            if verdicts is None:
                verdicts = {}
                for name, patch in (("gold", instance.patch), ("empty", "")):
                    with self._docker.start(DockerSandboxConfig(image=image)) as box:
                        result = grade(box, instance, spec, patch,
                                       log_dir=log.parent / "validation" / name,
                                       timeout_s=self.setup_timeout_s, allow_empty=True)
                    verdicts[name] = result.status
                if set(verdicts.values()) <= {"resolved", "unresolved"}:  # a timeout: retry
                    record.parent.mkdir(parents=True, exist_ok=True)
                    partial = record.with_suffix(".tmp")
                    partial.write_text(json.dumps({"substituted": spec.substituted, **verdicts}))
                    os.replace(partial, record)
        if verdicts.get("gold") != "resolved" or verdicts.get("empty") == "resolved":
            raise EnvBuildError(
                f"{instance.instance_id}: the substituted environment ({spec.substituted}) "
                f"failed validation: gold patch {verdicts.get('gold')}, empty patch "
                f"{verdicts.get('empty')}", log=log)

    def _empty_repo(self) -> Path:
        """A repository with one empty commit at pinned dates: the same sha everywhere, so
        the environment image's key depends on its spec only."""
        path = self.cache_dir / "empty-repo"
        with self._lock_for("empty-repo"):
            if not (path / ".git").exists():
                path.mkdir(parents=True, exist_ok=True)
                commit_all(path, "empty")
        return path

    @contextlib.contextmanager
    def _lock_for(self, key: str, *, node_wide: bool = False) -> Iterator[None]:
        """Held by one thread of one process at a time: a thread lock, then a file lock,
        since several processes (Ray workers, parallel CLI runs) share a Docker engine
        and a cache. Image builds lock node-wide; cache files lock in the cache."""
        with self._guard:
            thread_lock = self._locks.setdefault(key, threading.Lock())
        where = NODE_LOCKS if node_wide else self.cache_dir / ".locks"
        where.mkdir(parents=True, exist_ok=True)
        with thread_lock, FileLock(where / f"{key}.lock"):
            yield

    def _locked(self, key: str, build: Callable[[], str]) -> str:
        with self._lock_for(key, node_wide=True):
            return build()


def _read_verdicts(record: Path) -> dict[str, str] | None:
    try:
        found = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _venv_on_path() -> list[str]:
    """`python`/`pip`/`pytest` resolve to the environment's venv, so an agent's plain
    commands run where the repository's dependencies are."""
    return [f"printf '#!/bin/sh\\nexec {VENV}/bin/{tool} \"$@\"\\n' "
            f"> /usr/local/bin/{tool} && chmod +x /usr/local/bin/{tool}"
            for tool in ("python", "pip", "pytest")]


def current_env_pythons(spec: EnvSpec) -> list[str]:
    """tox-current-env runs the tests through `.tox/ENV/bin/python`, a link it makes to the
    interpreter running tox: the venv's `bin/python`, itself a link to the system Python.
    Started through a link to that link, Python finds no pyvenv.cfg beside it and runs
    without the venv's packages (the harness's conda interpreters are real files). The
    plugin keeps what is already there: scripts that exec the venv's Python, made first."""
    words = shlex.split(spec.test_cmd)
    if "tox" not in words or "--current-env" not in words:
        return []
    envs: list[str] = []
    for i, word in enumerate(words[:words.index("--")] if "--" in words else words):
        if word in ("-e", "--env"):
            envs += words[i + 1].split(",") if i + 1 < len(words) else []
        elif word.startswith("--env="):
            envs += word.removeprefix("--env=").split(",")
        elif word.startswith("-e") and not word.startswith("--"):
            envs += word.removeprefix("-e").split(",")
    names = ["python", f"python{spec.python.split('.')[0]}", f"python{spec.python}"]
    script = f"'#!/bin/sh\\nexec {VENV}/bin/python \"$@\"\\n'"
    return [f"mkdir -p .tox/{env}/bin && for n in {' '.join(names)}; do "
            f"printf {script} > .tox/{env}/bin/$n && chmod +x .tox/{env}/bin/$n; done"
            for env in envs if env]


def _writer(out) -> Callable[[str], None]:
    def say(message: str) -> None:
        out.write(message.rstrip("\n") + "\n")
        out.flush()

    return say


def env_commands(instance: Instance, spec: EnvSpec, source: Path) -> list[str]:
    """The venv and the spec's dependencies (the official harness's conda environment)."""
    commands = [f"python3 -m venv {VENV}",
                # A fresh conda env has a current pip/setuptools; Debian's are old. pip
                # 25.3 dropped the `setup.py develop` fallback that editable installs of
                # projects pinning setuptools < 64 (no PEP 660 hook: pylint 2.15's ~=62.6)
                # need, and that the harness's environments had.
                f"{ACTIVATE} && python -m pip install -q -U 'pip<25.3' setuptools wheel"]
    if spec.packages == "requirements.txt":
        commit = instance.environment_setup_commit or instance.base_commit
        reqs = requirements_at(source, commit, spec.requirements_paths)
        commands.append(f"cat > /tmp/requirements.txt <<'{HEREDOC}'\n{reqs}\n{HEREDOC}")
        commands.append(f"{ACTIVATE} && python -m pip install -r /tmp/requirements.txt")
    elif spec.packages:
        commands.append(f"{ACTIVATE} && python -m pip install {spec.packages}")
    constraints = ""
    if spec.conda_pip and spec.pip_packages:  # the spec's pins hold while the rest installs
        pins = "\n".join(spec.pip_packages)
        commands.append(f"cat > /tmp/quorum-pins.txt <<'{HEREDOC}'\n{pins}\n{HEREDOC}")
        constraints = " -c /tmp/quorum-pins.txt"
    for req in spec.conda_pip:  # one by one: a conda-only package must not sink the rest
        quoted = shlex.quote(req)
        commands.append(f"{ACTIVATE} && (python -m pip install{constraints} {quoted} || echo "
                        f"'quorum: not pip-installable here, left out:' {quoted})")
    if spec.pip_packages:
        pins = " ".join(shlex.quote(p) for p in spec.pip_packages)
        commands.append(f"{ACTIVATE} && python -m pip install {pins}")
    return commands
