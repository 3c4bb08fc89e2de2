"""`quorum images`: build and list the Debian Python base images sandboxes start from, and
prune the snapshots and environment images Quorum made."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from quorum import logs
from quorum.errors import EXIT_ERROR, fail, format_error, print_error
from sandbox import images, labels
from sandbox.docker_client import connect, translate_docker_errors
from sandbox.errors import QuorumError
from sandbox.gc import parse_age, prune_images

app = typer.Typer(
    help="Build and list the base images sandboxes start from; prune the images Quorum made.",
    no_args_is_help=True,
)


class SuiteChoice(StrEnum):
    all = "all"
    bookworm = "bookworm"
    bullseye = "bullseye"


@app.command("build-base")
def build_base(
    suite: Annotated[SuiteChoice, typer.Option(help="Debian suite to build, or all.")] = (
        SuiteChoice.all
    ),
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror URL (default: the host's apt source).")
    ] = None,
    pull: Annotated[
        str | None,
        typer.Option(
            help="Registry repository to try before building, e.g. reg.local/quorum/base."
        ),
    ] = None,
) -> None:
    """Build the base images that are missing; present ones are left alone (content-keyed)."""
    console = Console(highlight=False, soft_wrap=True)  # progress lines stay whole in logs
    suites = list(images.SUITES) if suite is SuiteChoice.all else [suite.value]
    try:
        with contextlib.closing(connect()) as client:
            missing = [s for s in suites if not images.base_image_present(client, s)]
    except QuorumError as exc:
        raise fail(exc) from exc
    for name in suites:
        if name not in missing:
            console.print(f"[green]✓[/] {images.base_image_tag(name)} already present")
    # The suites build in parallel: each is mostly waiting on the mirror and on dpkg. On a
    # terminal a bar shows how many are done and the time spent (a build takes minutes).
    with (logs.progress_bar(console, len(missing), "base images built") as built,
          ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool):  # fmt: skip
        futures = {s: pool.submit(_build_one, console, s, mirror, pull) for s in missing}
        for count, _ in enumerate(as_completed(futures.values()), 1):
            built(count)
    errors = {s: f.exception() for s, f in futures.items() if f.exception() is not None}
    for name, exc in errors.items():  # each suite's error, through the one formatter
        print_error(QuorumError(f"{name}: {format_error(exc)}"))
    if errors:
        raise typer.Exit(EXIT_ERROR)


def _build_one(console: Console, suite: str, mirror: str | None, pull: str | None) -> None:
    tag = images.base_image_tag(suite)
    started = time.monotonic()
    console.print(f"building {tag} (Debian {suite}, Python {images.SUITES[suite]})")
    with contextlib.closing(connect()) as client:  # one client per thread
        images.ensure_base_image(
            client, suite, mirror=mirror, pull_from=pull,
            progress=lambda msg: console.print(f"  {escape(msg)}"),
        )  # fmt: skip
    console.print(f"[green]✓[/] {tag} ready in {time.monotonic() - started:.0f}s")


@app.command("list")
def list_images() -> None:
    """The base images present, marking those the current recipe uses."""
    console = Console(highlight=False, soft_wrap=True)  # progress lines stay whole in logs
    current = {images.base_image_tag(s) for s in images.SUITES}
    try:
        client = connect()
        with translate_docker_errors("listing base images"):
            found = client.images.list(filters={"label": f"{labels.KIND}=base-image"})
    except QuorumError as exc:
        raise fail(exc) from exc
    # Plain lines, not a table: tags stay whole in narrow terminals and greppable in logs.
    present = set()
    for image in found:
        suite = image.labels.get(images.SUITE_LABEL, "?")
        size = f"{image.attrs.get('Size', 0) / 1024**2:.0f} MiB"
        for tag in image.tags or ["<untagged>"]:
            present.add(tag)
            status = "current" if tag in current else "stale: old recipe, `docker rmi` it"
            console.print(f"{tag}  {suite}  {size}  {status}")
    for tag in sorted(current - present):
        console.print(f"{tag}  missing: run `quorum images build-base`")


@app.command("prune")
def prune(
    older_than: Annotated[
        str, typer.Option(help="Only images created longer ago than this: 30m, 12h, 7d.")
    ] = "0s",
    keep_environments: Annotated[
        bool, typer.Option(help="Keep environment images (slow to build); prune snapshots.")
    ] = False,
) -> None:
    """Remove the images Quorum made (labelled ai.quorum.managed=1, never anyone else's):
    instance snapshots and environment images. Base images stay (`quorum images list`);
    an image a container still uses is kept."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise fail(QuorumError(f"--older-than: {exc}")) from exc
    try:
        with contextlib.closing(connect()) as client:
            outcome = prune_images(client, older_than_s=age, keep_environments=keep_environments)
    except QuorumError as exc:
        raise fail(exc) from exc
    for image in outcome:
        if image.removed:
            console.print(f"removed {image.name} ({image.kind})", markup=False)
        else:
            console.print(f"kept {image.name} ({image.kind}): {image.reason}", markup=False)
    kept = sum(not image.removed for image in outcome)
    console.print(f"removed {len(outcome) - kept} image(s)" + (f", kept {kept} in use" if kept
                                                              else ""))  # fmt: skip
