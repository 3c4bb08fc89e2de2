"""`quorum env`: a command, or a shell, in exactly the sandbox an agent gets for an instance
(the one `quorum solve ID --dataset FILE` would start), for a person debugging an
environment and for checks such as "the repository holds no future history"."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from quorum.commands import solve_options as so
from quorum.errors import fail, print_error
from quorum.paths import cache_dir
from quorum.sandboxes import Backend, sandbox_factory
from quorum.tasks import resolve_task
from sandbox.docker_sandbox import DockerSandbox
from sandbox.errors import QuorumError
from sandbox.protocol import Sandbox

EXIT_TIMEOUT = 124  # as timeout(1) says it

app = typer.Typer(
    help="Run a command, or a shell, in the sandbox an agent gets for a SWE-bench instance.",
    no_args_is_help=True,
)

Dataset = Annotated[
    Path, typer.Option(help="SWE-bench dataset file (JSONL/JSON) holding the instance.")
]
RepoMirror = Annotated[
    Path | None, typer.Option(help="Directory of bare clones (owner+name) to clone from.")
]
SandboxOpt = Annotated[str, typer.Option("--sandbox", help="docker, or local (no isolation).")]


@app.command("exec")
def exec_command(
    instance_id: Annotated[str, typer.Argument(help="The instance id, e.g. django__django-1.")],
    command: Annotated[
        list[str], typer.Argument(help="The command and its arguments, after `--`.")
    ],
    dataset: Dataset,
    repo_mirror: RepoMirror = None,
    sandbox: SandboxOpt = "docker",
    images: so.Images = so.IMAGES_DEFAULT,
    image_namespace: so.ImageNamespace = so.NAMESPACE_DEFAULT,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds before the command is killed (exit 124).")
    ] = 600,
) -> None:
    """Run CMD in the instance's sandbox (its environment image, the repository at the base
    commit, no network) and exit with its exit code; stdout and stderr are the command's.
    Example: `quorum env exec ID --dataset D -- git log --all --oneline`."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    cmd = shlex.join(command)
    with _instance_sandbox(instance_id, dataset, repo_mirror, sandbox, console,
                           images=images, image_namespace=image_namespace) as box:
        result = box.exec(cmd, timeout=timeout)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    sys.stderr.flush()
    if result.timed_out:
        print_error(QuorumError(f"`{cmd}` timed out after {timeout:g}s",
                                hint="raise --timeout"), console)  # fmt: skip
        raise typer.Exit(EXIT_TIMEOUT)
    if result.truncated:
        console.print("note: output truncated by quorum", markup=False)
    raise typer.Exit(result.exit_code)


@app.command("shell")
def shell_command(
    instance_id: Annotated[str, typer.Argument(help="The instance id, e.g. django__django-1.")],
    dataset: Dataset,
    repo_mirror: RepoMirror = None,
    sandbox: SandboxOpt = "docker",
    images: so.Images = so.IMAGES_DEFAULT,
    image_namespace: so.ImageNamespace = so.NAMESPACE_DEFAULT,
) -> None:
    """Open an interactive shell in the instance's sandbox; it is removed when the shell
    exits. Needs a terminal, and for the Docker backend the docker CLI on PATH (a terminal
    in a container needs it: it runs `docker exec -it CONTAINER bash`); with --sandbox local
    it is bash in a temporary copy of the repository, on this host."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise fail(QuorumError(
            "`quorum env shell` needs a terminal (stdin and stdout are not one)",
            hint="run it from an interactive terminal, or use `quorum env exec ID --dataset "
            "D -- CMD`",
        ), console)  # fmt: skip
    if sandbox == "docker" and shutil.which("docker") is None:
        raise fail(QuorumError(
            "`quorum env shell` needs the docker CLI on PATH for a terminal in the container",
            hint="install the docker CLI, or use `quorum env exec ID --dataset D -- CMD`",
        ), console)  # fmt: skip
    with _instance_sandbox(instance_id, dataset, repo_mirror, sandbox, console,
                           images=images, image_namespace=image_namespace) as box:
        argv = _shell_argv(box)
        console.print(f"shell in {instance_id} at {box.base_commit[:12]} "
                      f"({box.workspace}); exit to remove the sandbox", markup=False)  # fmt: skip
        code = subprocess.call(argv, cwd=None if sandbox == "docker" else box.workspace)
    raise typer.Exit(code)


@contextmanager
def _instance_sandbox(instance_id: str, dataset: Path, repo_mirror: Path | None,
                      sandbox: str, console: Console, *, images: str,
                      image_namespace: str) -> Iterator[Sandbox]:  # fmt: skip
    """The agent's sandbox for the instance: the same task resolution and sandbox factory
    as `quorum solve`; removed on exit."""
    if sandbox not in ("docker", "local"):
        raise fail(QuorumError(f"--sandbox must be docker or local, not {sandbox!r}"), console)
    backend: Backend = "docker" if sandbox == "docker" else "local"
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    cache = cache_dir(os.environ)
    try:
        source = so.image_source(images, image_namespace, sandbox=backend)
        logs = cache / "env-logs" / re.sub(r"[^A-Za-z0-9_.-]+", "-", instance_id)
        logs.mkdir(parents=True, exist_ok=True)  # the environment's build log, kept
        task = resolve_task(
            instance_id, issue=None, issue_file=None, dataset=dataset, allow_dirty=False,
            workdir=cache / "repos", environ=os.environ, repo_mirror=repo_mirror,
            sandbox=backend, log_dir=logs, images=source, image_namespace=image_namespace,
        )  # fmt: skip
        with (
            sandbox_factory(task, backend, run_id=f"env-{instance_id}"[:40], progress=say) as start,
            start() as box,
        ):
            yield box
    except QuorumError as exc:
        raise fail(exc, console) from exc


def _shell_argv(box: Sandbox) -> list[str]:
    shell = ["sh", "-c", "if command -v bash >/dev/null; then exec bash; else exec sh; fi"]
    if isinstance(box, DockerSandbox):  # a terminal in the container, through the docker CLI
        return box.terminal_argv(shell)
    return shell
