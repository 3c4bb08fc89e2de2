"""Grade one patch on one instance inside a sandbox started from its instance image, the
way swebench 4.1.0's harness does:

candidate patch (`git apply -v`, then `git apply -v --reject`, then `patch --fuzz=5`) ->
reinstall (`install`; the spec's eval commands run in its shell and in the tests') -> test
files reset to the base commit -> test patch -> `{test_cmd} {test files}` -> the repo's log
parser -> resolved iff every FAIL_TO_PASS and every PASS_TO_PASS test passed (PASSED or
XFAIL; a test missing from the log counts as failed, a skipped one as neither)."""

from __future__ import annotations

import shlex
import time
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envs.instances import Instance
from envs.log_parsers import parse_log
from envs.patch import changed_files
from envs.specs import EnvSpec
from sandbox.errors import SandboxError
from sandbox.protocol import Sandbox

Status = Literal[
    "resolved", "unresolved", "empty_patch", "patch_failed", "test_patch_failed",
    "timeout", "env_error", "error",
]
ERROR_STATUSES = ("patch_failed", "test_patch_failed", "timeout", "env_error", "error")
APPLY_COMMANDS = ("git apply --verbose", "git apply --verbose --reject",
                  "patch --batch --fuzz=5 -p1 -i")
# swebench's NON_TEST_EXTS: files in a test patch that are data, not tests to run.
NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml",
                 ".yaml", ".toml")
STEP_TIMEOUT_S = 600
GIT = "git -c safe.directory='*' -c core.fileMode=false"


class TestsStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False

    success: list[str] = Field(default_factory=list)
    failure: list[str] = Field(default_factory=list)


class GradeResult(BaseModel):
    """One instance's verdict, with the evidence."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    status: Status
    patch_applied: bool = False
    fail_to_pass: TestsStatus = Field(default_factory=TestsStatus)
    pass_to_pass: TestsStatus = Field(default_factory=TestsStatus)
    detail: str = Field("", description="why, for anything but resolved/unresolved")
    substituted: str = Field("", description="graded in a substituted environment: what "
                             "replaced what the official spec asks for (envs.substitution)")
    image_source: Literal["official", "build", ""] = Field(
        "", description="the instance image: the harness's published one, or built here")
    duration_s: float = 0.0

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"


def changed_paths(diff: str) -> list[str]:
    return changed_files(diff)


def run_targets(instance: Instance, spec: EnvSpec) -> list[str]:
    """The files the test command runs: the test patch's test files (as the harness). For
    local instances also the files of every graded test id, which may live elsewhere."""
    files = [p for p in changed_paths(instance.test_patch) if not p.endswith(NON_TEST_EXTS)]
    if not spec.official:
        files += [t.split("::")[0] for t in [*instance.fail_to_pass, *instance.pass_to_pass]]
    if spec.official and spec.repo == "django/django":
        files = [django_label(f) for f in files]
    return list(dict.fromkeys(files))


def django_label(path: str) -> str:
    """Django's runtests.py takes test modules, not files: `tests/app/tests.py` ->
    `app.tests` (as swebench's get_test_directives)."""
    path = path.removesuffix(".py")
    return path.removeprefix("tests/").replace("/", ".")


def judge(status_map: dict[str, str], instance: Instance) -> tuple[TestsStatus, TestsStatus]:
    def split(tests: list[str]) -> TestsStatus:
        out = TestsStatus()
        for test in tests:
            state = status_map.get(test)
            if state in ("PASSED", "XFAIL"):
                out.success.append(test)
            elif state is None or state in ("FAILED", "ERROR"):
                out.failure.append(test)
        return out

    return split(instance.fail_to_pass), split(instance.pass_to_pass)


def grade(sandbox: Sandbox, instance: Instance, spec: EnvSpec, patch: str, *,
          log_dir: Path, timeout_s: float = 1800, allow_empty: bool = False) -> GradeResult:
    """Grade `patch` in `sandbox` (fresh, at the base commit). Writes patch.diff,
    eval.log and test_output.txt under `log_dir`."""
    started = time.monotonic()
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "patch.diff").write_text(patch)
    log = (log_dir / "eval.log").open("w")

    def done(status: Status, detail: str = "", **kw: object) -> GradeResult:
        log.write(f"== {status} {detail}\n")
        log.close()
        return GradeResult(instance_id=instance.instance_id, status=status, detail=detail,
                           duration_s=round(time.monotonic() - started, 2), **kw)

    def run(cmd: str, timeout: float = STEP_TIMEOUT_S):
        result = sandbox.exec(cmd, timeout=timeout)
        log.write(f"$ {cmd}\n{result.output}\n[exit {result.exit_code}"
                  f"{', timed out' if result.timed_out else ''}]\n")
        log.flush()
        return result

    if not patch.strip() and not allow_empty:
        return done("empty_patch")
    if patch.strip():
        path = _put(sandbox, patch, "candidate")
        if not any(run(f"{cmd} {path}").ok for cmd in APPLY_COMMANDS):
            return done("patch_failed", "the patch does not apply (git apply and patch -F5)")
    # The harness runs one script: the eval commands' exports (Django's locale) must hold
    # in the shell that installs and tests. Like its script, a failing one does not stop it.
    evals = f"{{ {'; '.join(spec.eval_commands)}; true; }} && " if spec.eval_commands else ""
    prelude = f"{spec.activate} && {evals}"
    if spec.install:
        install = run(prelude + spec.install, timeout=timeout_s)
        if not install.ok:  # the harness goes on; the tests then tell
            log.write("(install failed; running the tests anyway, as the harness does)\n")
    test_files = changed_paths(instance.test_patch)
    if test_files:
        quoted = " ".join(shlex.quote(f) for f in test_files)
        run(f"{GIT} checkout {instance.base_commit} -- {quoted} 2>/dev/null || true")
        if not run(f"{GIT} apply --verbose {_put(sandbox, instance.test_patch, 'test')}").ok:
            return done("test_patch_failed", "the instance's test patch does not apply",
                        patch_applied=True)
    directives = " ".join(shlex.quote(d) for d in run_targets(instance, spec))
    tests = run(f"{prelude}{spec.test_cmd} {directives} 2>&1", timeout=timeout_s)
    (log_dir / "test_output.txt").write_text(tests.output)
    if tests.timed_out:
        return done("timeout", f"the tests ran past {timeout_s:.0f}s", patch_applied=True)
    f2p, p2p = judge(parse_log(spec, tests.output, instance.instance_id), instance)
    resolved = not f2p.failure and not p2p.failure
    return done("resolved" if resolved else "unresolved", patch_applied=True,
                fail_to_pass=f2p, pass_to_pass=p2p)


def _put(sandbox: Sandbox, text: str, name: str) -> str:
    """Write `text` to /tmp in the sandbox (outside the repository the tests see)."""
    if not text.endswith("\n"):
        text += "\n"
    rel = f".quorum-{name}-{uuid.uuid4().hex[:8]}.diff"
    try:
        sandbox.write_file(rel, text)
    except SandboxError:
        # Seen once on a loaded host: a container's first exec answered nothing. A second
        # try costs little; a real failure still raises and marks the instance `error`.
        time.sleep(1)
        sandbox.write_file(rel, text)
    target = f"/tmp/{rel[1:]}"
    sandbox.exec(f"mv {rel} {target}", timeout=60)
    return target
