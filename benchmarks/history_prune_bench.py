"""Preparing one instance snapshot from a mirror, before and after "no future in any
sandbox" (sandbox/base_repo.py), measured in the same run, interleaved.

- before: the old snapshot copy: `git clone --no-checkout` of the mirror (read-only mount) in
  a helper container, checkout of the base commit, `git remote remove origin`, the checkout
  archived out of the helper and into the build container. Every branch, tag and object of
  the mirror came along.
- after: `export_base_repo` on the host (alternates + `git pack-objects --revs` of the base
  commit), the result archived into the build container.

Both run through `DockerProvider.snapshot` (one no-op setup command, unique per run so no
image is reused) and differ only in how the repository is copied. Per way it prints the time
to a committed image, the image's own layer (what the repository costs on disk), and what
the repository holds (refs, tags, objects, commits reachable from `--all`); then the git work
alone on the host, for those two and for the two other history-free ways considered (a fresh
repository fetching the base commit with `--no-tags`; a clone with every other ref and the
reflog deleted, then `git gc --prune=now`), and the ratios after/before.

    .venv/bin/python benchmarks/history_prune_bench.py \\
        [--mirror /work/.mirror/pytest-dev+pytest/repo] [--commit SHA] [--runs 3]

The default commit is the base of SWE-bench Lite's pytest-dev__pytest-9359 (December 2021).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from sandbox import labels
from sandbox.base_repo import export_base_repo, resolve_commit
from sandbox.config import SnapshotSpec
from sandbox.docker_client import connect, translate_docker_errors
from sandbox.docker_sandbox import DockerSandbox
from sandbox.errors import SandboxError
from sandbox.images import ensure_base_image
from sandbox.provider import DockerProvider

MIRROR = Path("/work/.mirror/pytest-dev+pytest/repo")
COMMIT = "e2ee3144ed6e241dea8d96215fcdca18b3892551"  # pytest-dev__pytest-9359
_MOUNT = "/mnt/quorum-source"


class BeforeProvider(DockerProvider):
    """The snapshot copy as it was before this change (sandbox/provider.py, recipe 2)."""

    def _copy_source(self, build: DockerSandbox, spec: SnapshotSpec, commit: str,
                     say: Callable[[str], None]) -> None:
        with translate_docker_errors("copy the repository into the snapshot"):
            helper = self.client.containers.run(
                spec.base_image,
                ["sh", "-c", f"git clone -q --no-checkout {_MOUNT} /out/repo && cd /out/repo && "
                 f"git -c advice.detachedHead=false checkout -q {commit} && "
                 "git remote remove origin"],
                volumes={str(spec.source.resolve()): {"bind": _MOUNT, "mode": "ro"}},
                network_mode="none", labels=self._labels("snapshot-copy", 3600), detach=True,
                environment={"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
                             "GIT_CONFIG_VALUE_0": "*"},
            )
            try:
                if helper.wait(timeout=spec.setup_timeout_s).get("StatusCode") != 0:
                    raise SandboxError(helper.logs().decode(errors="replace")[-2000:])
                archive, _ = helper.get_archive("/out/repo/.")
                build.exec(f"mkdir -p {spec.workspace}", timeout=60)
                self.client.api.put_archive(build.container_id, spec.workspace, archive)
            finally:
                helper.remove(force=True)


def contents(client: docker.DockerClient, image: str) -> dict[str, int]:
    script = ("cd /workspace && g='git -c safe.directory=*' && "
              "echo refs=$($g for-each-ref | wc -l) tags=$($g tag | wc -l) "
              "branches=$($g branch -a | wc -l) commits_all=$($g rev-list --all | wc -l) "
              "objects=$($g count-objects -v | sed -n 's/^in-pack: //p') "
              "git_dir_kib=$(du -sk .git | cut -f1)")
    out = client.containers.run(image, ["sh", "-c", script], remove=True,
                                labels={labels.MANAGED: "1"}, network_mode="none")
    return {k: int(v) for k, v in (kv.split("=") for kv in out.decode().split())}


def layer_mib(client: docker.DockerClient, image: str, base: str) -> float:
    return (client.images.get(image).attrs["Size"] - client.images.get(base).attrs["Size"]) / 2**20


def snapshot_once(provider: DockerProvider, base: str, mirror: Path, commit: str) -> tuple[
        float, str]:
    spec = SnapshotSpec(base_image=base, source=mirror, commit=commit,
                        setup=[f"true bench-{uuid.uuid4().hex}"])
    started = time.perf_counter()
    tag = provider.snapshot(spec)
    return time.perf_counter() - started, tag


def host_before(mirror: Path, dest: Path, commit: str) -> None:
    git = ["git", "-c", "safe.directory=*"]
    subprocess.run([*git, "clone", "-q", "--no-hardlinks", "--no-checkout", str(mirror),
                    str(dest)], check=True)
    subprocess.run([*git, "-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "-q",
                    commit], check=True)
    subprocess.run([*git, "-C", str(dest), "remote", "remove", "origin"], check=True)


def host_fetch(mirror: Path, dest: Path, commit: str) -> None:
    """The other history-free way considered: a fresh repository fetching the base commit."""
    git = ["git", "-c", "safe.directory=*", "-C", str(dest)]
    subprocess.run(["git", "init", "-q", "--template=", str(dest)], check=True)
    subprocess.run([*git, "-c", "uploadpack.allowAnySHA1InWant=true", "fetch", "-q",
                    "--no-tags", str(mirror), commit], check=True)
    subprocess.run([*git, "checkout", "-q", "-B", "main", commit], check=True)


def host_clone_gc(mirror: Path, dest: Path, commit: str) -> None:
    """And a clone pruned afterwards: every other ref and the reflog deleted, then gc. The
    mirror's pack is a `.promisor` pack, which gc keeps whole: it is deleted first."""
    host_before(mirror, dest, commit)
    git = ["git", "-c", "safe.directory=*", "-C", str(dest)]
    for promisor in (dest / ".git" / "objects" / "pack").glob("*.promisor"):
        promisor.unlink()
    subprocess.run([*git, "checkout", "-q", "-B", "main", commit], check=True)
    refs = subprocess.run([*git, "for-each-ref", "--format=delete %(refname)"], check=True,
                          capture_output=True, text=True).stdout
    subprocess.run([*git, "update-ref", "--stdin"], check=True, text=True, input="".join(
        line + "\n" for line in refs.splitlines() if line != "delete refs/heads/main"))
    subprocess.run([*git, "reflog", "expire", "--expire=now", "--all"], check=True)
    subprocess.run([*git, "gc", "-q", "--prune=now"], check=True)


HOST_WAYS = {"before": host_before, "after": export_base_repo, "fetch": host_fetch,
             "clone_gc": host_clone_gc}


def du_mib(path: Path) -> float:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=MIRROR)
    parser.add_argument("--commit", default=COMMIT)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    commit = resolve_commit(args.mirror, args.commit)
    client = connect()
    base = ensure_base_image(client, "bookworm")
    ways = {"before": BeforeProvider(client, run_id="bench-history"),
            "after": DockerProvider(client, run_id="bench-history")}
    times: dict[str, list[float]] = {w: [] for w in ways}
    host: dict[str, list[float]] = {w: [] for w in HOST_WAYS}
    facts: dict[str, dict[str, float]] = {}
    print(f"mirror={args.mirror} commit={commit[:12]} runs={args.runs} "
          f"mirror_mib={du_mib(args.mirror):.0f}")
    try:
        for _ in range(args.runs):
            for way, provider in ways.items():
                seconds, tag = snapshot_once(provider, base, args.mirror, commit)
                times[way].append(seconds)
                facts[way] = {"layer_mib": layer_mib(client, tag, base),
                              **contents(client, tag)}
                client.images.remove(tag, force=True)
            for way, prepare in HOST_WAYS.items():
                with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
                    dest = Path(tmp) / "repo"
                    started = time.perf_counter()
                    prepare(args.mirror, dest, commit)
                    host[way].append(time.perf_counter() - started)
                    facts.setdefault(way, {})["host_repo_mib"] = du_mib(dest)
                    shutil.rmtree(dest)
    finally:
        for provider in ways.values():
            provider.close_all()
        client.close()
    for way in HOST_WAYS:
        if way in ways:
            print(f"{way}_snapshot_s={statistics.median(times[way]):.2f} "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times[way])})")
        print(f"{way}_host_git_s={statistics.median(host[way]):.2f} "
              f"(runs: {', '.join(f'{t:.2f}' for t in host[way])})")
        print(" ".join(f"{way}_{k}={v:.1f}" if isinstance(v, float) else f"{way}_{k}={v}"
                       for k, v in facts[way].items()))
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"snapshot_time_ratio_after_vs_before={ratio:.2f}")
    print(f"snapshot_layer_ratio_after_vs_before="
          f"{facts['after']['layer_mib'] / facts['before']['layer_mib']:.2f}")
    print(f"host_git_time_ratio_after_vs_before="
          f"{statistics.median(host['after']) / statistics.median(host['before']):.2f}")


if __name__ == "__main__":
    main()
