"""Sandbox speed against baselines measured in the same run. Prints name=value lines.

    .venv/bin/python benchmarks/sandbox_bench.py [--repeats 30]

exec_overhead_ratio_vs_docker_cli: median `true` through DockerSandbox.exec over median
`docker exec <container> true` through the CLI, on the same container, interleaved so
machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quorum.commands.sandbox import tiny_repo
from sandbox.config import DockerSandboxConfig, SnapshotSpec
from sandbox.images import ensure_base_image
from sandbox.provider import DockerProvider
from sandbox.registry import close_on_signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    provider = DockerProvider.connect(run_id="bench")
    base = ensure_base_image(provider.client, "bookworm")
    with tempfile.TemporaryDirectory() as tmp, close_on_signals(provider.registry):
        snapshot = provider.snapshot(SnapshotSpec(base_image=base, source=tiny_repo(Path(tmp))))
        config = DockerSandboxConfig(image=snapshot)
        try:
            _exec_overhead(provider, config, args.repeats)
            _ready(provider, config)
        finally:
            provider.close_all()


def _exec_overhead(provider: DockerProvider, config: DockerSandboxConfig, repeats: int) -> None:
    ours, cli = [], []
    with provider.start(config) as box:
        box.exec("true", timeout=30)  # warm both paths once
        subprocess.run(["docker", "exec", box.container_id, "true"], check=True)
        for _ in range(repeats):
            started = time.perf_counter()
            assert box.exec("true", timeout=30).ok
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(["docker", "exec", box.container_id, "true"], check=True)
            cli.append(time.perf_counter() - started)
    print(f"exec_ours_median_ms={statistics.median(ours) * 1e3:.1f}")
    print(f"exec_docker_cli_median_ms={statistics.median(cli) * 1e3:.1f}")
    print(
        f"exec_overhead_ratio_vs_docker_cli={statistics.median(ours) / statistics.median(cli):.3f}"
    )


def _ready(provider: DockerProvider, config: DockerSandboxConfig) -> None:
    def start_and_run() -> float:
        started = time.perf_counter()
        box = provider.start(config)
        assert box.exec("true", timeout=30).ok
        elapsed = time.perf_counter() - started
        box.close()
        return elapsed

    ready = [start_and_run() for _ in range(10)]
    print(f"snapshot_ready_p50_s={statistics.median(ready):.3f}")
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        boxes = list(pool.map(lambda _: provider.start(config), range(8)))
        assert all(r.ok for r in pool.map(lambda b: b.exec("true", timeout=60), boxes))
    print(f"parallel8_ready_s={time.perf_counter() - started:.3f}")
    for box in boxes:
        box.close()


if __name__ == "__main__":
    main()
