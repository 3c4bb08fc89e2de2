"""Grading speed with warm images. Prints name=value lines.

    .venv/bin/python benchmarks/eval_bench.py [--instances 10]

Grades the gold patches of the bundled micro-tasks. A warm-up pass builds (or finds) every
environment and instance image, so the timed passes measure grading only: a fresh sandbox,
candidate patch, test patch, the test run, parsing.

eval_s_per_instance: wall seconds per instance with 1 worker.
eval_parallel_efficiency: (1-worker wall / 2-worker wall) / 2; 1.0 is perfect scaling.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from envs.microtasks import materialize_tasks
from quorum.evaluate import GOLD, EvalOptions, evaluate, special_predictions
from sandbox.config import HOST_CA_BUNDLE
from sandbox.provider import DockerProvider


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=10)
    args = parser.parse_args()
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        instances = materialize_tasks(root / "tasks")[: args.instances]
        preds = special_predictions(instances, GOLD)
        provider = DockerProvider.connect(run_id="eval-bench")

        def run(name: str, workers: int) -> float:
            options = EvalOptions(out=root / name, workers=workers, ca_bundle=bundle,
                                  cache_dir=root / "cache", timeout_s=600)
            started = time.monotonic()
            report = evaluate(instances, preds, options, provider=provider)
            wall = time.monotonic() - started
            if report["resolved_instances"] != len(instances):
                raise SystemExit(f"{name}: gold patches not all resolved: {report}")
            return wall

        run("warmup", 2)
        one = run("w1", 1)
        two = run("w2", 2)
    print(f"instances={len(instances)}")
    print(f"eval_s_per_instance={one / len(instances):.2f}")
    print(f"eval_wall_s_1_worker={one:.1f}")
    print(f"eval_wall_s_2_workers={two:.1f}")
    print(f"eval_parallel_efficiency={one / two / 2:.2f}")


if __name__ == "__main__":
    main()
