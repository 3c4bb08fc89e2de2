"""How often the demo ends in a fix: the grades of repeated `quorum demo` runs, summed up.

    .venv/bin/python benchmarks/demo_fix_rate.py [--runs K] [--history runs/demo-history.jsonl]

With --runs K it first runs `quorum demo` K more times (each appends its grade to the
history); then it prints, over every run in the history:

pass_at_1: share of all candidates that pass the hidden tests.
coverage_at_N: share of runs in which some candidate passes them (N = candidates per run).
selected_passes: share of runs whose selected patch passes them; an abstention is a miss.
abstained / selected_fails: share of runs that abstained / chose a failing patch.
median_wall_s: the solve's median wall time (the issue's target: at most 300 s).
median_prompt_s / median_generation_s / median_prompt_tokens_evaluated: the embedded
    server's own timings per run (agent.llm.embedded_perf), where the runs recorded them;
    median_model_idle_s is the rest of the wall time (sandboxes, tests, Quorum itself).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def summarize(lines: list[dict]) -> dict[str, float]:
    verdicts = [v for run in lines for v in run["candidates"].values()]
    runs = len(lines)
    return {
        "runs": runs,
        "candidates_per_run": round(len(verdicts) / runs, 2),
        "pass_at_1": round(sum(verdicts) / len(verdicts), 3) if verdicts else 0.0,
        "coverage_at_N": round(sum(run["coverage"] for run in lines) / runs, 3),
        "selected_passes": round(sum(bool(run["selected_passes"]) for run in lines) / runs, 3),
        "abstained": round(sum(run["selected"] is None for run in lines) / runs, 3),
        "selected_fails": round(sum(run["selected_passes"] is False for run in lines) / runs, 3),
        "mean_wall_s": round(sum(run["wall_s"] for run in lines) / runs, 1),
        "mean_tokens": round(sum(run["tokens"] for run in lines) / runs),
        "median_wall_s": round(statistics.median(run["wall_s"] for run in lines), 1),
        **_model_time([run for run in lines if run.get("model_time")]),
    }


def _model_time(runs: list[dict]) -> dict[str, float]:
    if not runs:
        return {}
    def median(get) -> float:
        return round(statistics.median(get(run) for run in runs), 1)

    return {
        "runs_with_model_time": len(runs),
        "median_prompt_s": median(lambda r: r["model_time"]["prompt_s"]),
        "median_generation_s": median(lambda r: r["model_time"]["generation_s"]),
        "median_prompt_tokens_evaluated": median(
            lambda r: r["model_time"]["prompt_tokens_evaluated"]),
        "median_model_idle_s": median(lambda r: r["wall_s"] - r["model_time"]["prompt_s"]
                                      - r["model_time"]["generation_s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=0, help="demo runs to add first")
    parser.add_argument("--history", type=Path, default=ROOT / "runs" / "demo-history.jsonl")
    parser.add_argument("--demo-args", default="", help="extra arguments for quorum demo")
    args = parser.parse_args()
    quorum = str(Path(sys.executable).with_name("quorum"))
    for i in range(args.runs):
        print(f"demo run {i + 1}/{args.runs}", file=sys.stderr)
        # A run that abstains exits 2; it is still a graded run.
        subprocess.run([quorum, "demo", "--history", str(args.history), *args.demo_args.split()],
                       cwd=ROOT, check=False)  # fmt: skip
    lines = ([json.loads(x) for x in args.history.read_text().splitlines() if x.strip()]
             if args.history.is_file() else [])  # fmt: skip
    if not lines:  # `make bench` runs every benchmark; this one needs --runs K to measure
        print(f"demo_fix_rate: no demo runs in {args.history}; measure with --runs K "
              "(each run takes about 10-15 minutes on 2 cores)")
        return
    for name, value in summarize(lines).items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
