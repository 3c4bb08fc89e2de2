"""What the allocation policies save: `quorum simulate` over the committed recorded tables
(the embedded model's real seven-task run, replayed; the scripted stand-in runs) and over a
synthetic table fitted to the committed pass counts (simulated).

    .venv/bin/python benchmarks/allocation_sim.py [--instances 200] [--seed 0] [--max-n 8]
    .venv/bin/python benchmarks/allocation_sim.py --make-table [--bench DIR ...]

--make-table rebuilds benchmarks/data/recorded_outcomes.jsonl: the fixture run
tests/fixtures/run_small (examples/calc, models played by the scripted stand-in), each
candidate graded here on the example's hidden tests (local sandbox, seconds), plus every
graded `quorum bench --out` DIR given. Numbers from it are replays of recorded candidates;
numbers from the synthetic table are simulated (benchmarks/data/README.md)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
TABLE = DATA / "recorded_outcomes.jsonl"
REAL = DATA / "small_model_v4_outcomes.jsonl"  # the embedded model, agentless, N = 8
RUN_SMALL = ROOT / "tests" / "fixtures" / "run_small"


def grade_run_small() -> dict[str, bool]:
    """run_small's candidates on examples/calc's hidden tests (FAIL_TO_PASS + PASS_TO_PASS)."""
    from envs.examples import materialize_example
    from quorum.demo import passes_hidden
    from quorum.sandboxes import sandbox_factory
    from selection.pool import read_run_dir

    with tempfile.TemporaryDirectory() as tmp:
        task = materialize_example("calc", Path(tmp) / "calc")
        with sandbox_factory(task, "local", run_id="grade") as start:
            return {c.id: passes_hidden(task, c.patch, start) for c in read_run_dir(RUN_SMALL)}


def make_table(benches: list[Path]) -> None:
    from quorum.outcomes import from_bench_dir, from_run_dir, write_table

    labels = grade_run_small()
    rows = [from_run_dir(RUN_SMALL, labels, source="tests/fixtures/run_small (scripted stand-in)")]
    rows += [inst for bench in benches for inst in from_bench_dir(bench)]
    write_table(rows, TABLE)
    print(f"wrote {TABLE.relative_to(ROOT)}: {len(rows)} instances; run_small grades "
          f"{json.dumps(labels)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make-table", action="store_true")
    parser.add_argument("--bench", type=Path, action="append", default=[])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-n", type=int, default=8)
    args = parser.parse_args()
    if args.make_table:
        make_table(args.bench)
        return
    quorum = [sys.executable, "-m", "quorum.cli", "simulate", "--max-n", str(args.max_n)]
    for title, extra in (
        ("the embedded model's recorded run (replayed)", [str(REAL)]),
        ("scripted stand-in runs (replayed)", [str(TABLE)]),
        ("synthetic (simulated)", ["--synthetic", "--instances", str(args.instances),
                                   "--seed", str(args.seed)]),
    ):  # fmt: skip
        print(f"## {title}\n", flush=True)
        subprocess.run([*quorum, *extra], check=True, cwd=ROOT)
        print()


if __name__ == "__main__":
    main()
