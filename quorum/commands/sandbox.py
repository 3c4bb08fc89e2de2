"""`quorum sandbox`: sweep leftover containers, and a smoke check of the whole runtime."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from quorum.errors import fail, format_error
from sandbox.config import DockerSandboxConfig, SnapshotSpec
from sandbox.docker_client import connect
from sandbox.errors import QuorumError
from sandbox.gc import sweep
from sandbox.images import ensure_base_image
from sandbox.provider import DockerProvider
from sandbox.registry import close_on_signals

app = typer.Typer(help="Manage Docker sandboxes.", no_args_is_help=True)
console = Console(highlight=False)


@app.command("gc")
def gc() -> None:
    """Remove Quorum containers whose owner process is gone or whose TTL has passed."""
    try:
        removed = sweep(connect())
    except QuorumError as exc:
        raise fail(exc) from exc
    console.print(f"removed {len(removed)} leftover sandbox container(s)")


@app.command("smoke")
def smoke(
    suite: Annotated[str, typer.Option(help="Base image suite to start from.")] = "bookworm",
) -> None:
    """Start a sandbox from a snapshot of a tiny repository and exercise every capability:
    exec, hard timeout, files, diff, patch. Exits 1 on the first failure."""
    try:
        _smoke(suite)
    except QuorumError as exc:
        raise fail(QuorumError(f"smoke check failed: {format_error(exc)}")) from exc


def _smoke(suite: str) -> None:
    provider = DockerProvider.connect(run_id="smoke")
    base = ensure_base_image(provider.client, suite, progress=console.print)
    with tempfile.TemporaryDirectory() as tmp, close_on_signals(provider.registry):
        repo = tiny_repo(Path(tmp))
        snapshot = provider.snapshot(SnapshotSpec(base_image=base, source=repo))
        started = time.monotonic()
        with provider.start(DockerSandboxConfig(image=snapshot)) as box:
            version = box.exec("python3 --version", timeout=30)
            _step(
                version.ok,
                f"sandbox ready in {time.monotonic() - started:.2f}s, {version.stdout.strip()}",
            )
            slept = box.exec("sleep 600", timeout=2)
            _step(
                slept.timed_out and slept.duration_s < 3,
                f"hard timeout: `sleep 600` stopped after {slept.duration_s:.1f}s",
            )
            box.write_file("hello.py", "print('hello from the sandbox')\n")
            ran = box.exec("python3 hello.py", timeout=30)
            _step(ran.stdout == "hello from the sandbox\n", "write a file and run it")
            patch = box.diff()
            _step("+print('hello from the sandbox')" in patch, "diff against the base commit")
        with provider.start(DockerSandboxConfig(image=snapshot)) as other:
            other.apply_patch(patch)
            _step(other.read_file("hello.py").startswith(b"print"), "apply the patch elsewhere")
    console.print("[green]sandbox smoke check passed[/green]")


def _step(ok: bool, message: str) -> None:
    if not ok:
        raise QuorumError(message)
    console.print(f"[green]✓[/green] {message}")


def tiny_repo(root: Path) -> Path:
    """A one-commit git repository under `root`, for smoke checks and benchmarks."""
    import git

    repo = git.Repo.init(root / "tiny")
    (root / "tiny" / "README.md").write_text("tiny\n")
    repo.index.add(["README.md"])
    actor = git.Actor("quorum", "quorum@localhost")
    repo.index.commit("init", author=actor, committer=actor)
    return root / "tiny"
