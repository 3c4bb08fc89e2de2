"""How sampling plus selection scales with a small model, over the bundled micro-tasks.

    .venv/bin/python benchmarks/small_model_scaling.py [--solvers agentless,agent]
        [--tasks basket,change] [--max-n 8] [--out runs/scaling] [--model embedded]

For each solver and task, Quorum's pipeline (quorum.solve, local sandboxes) samples max-n
candidates once; every candidate is graded on the task's hidden tests (its patch, then the
test patch, then FAIL_TO_PASS + PASS_TO_PASS). Figures for N < max-n are computed by
sub-sampling those candidates (every N-subset when there are at most 70, else 70 drawn at
random with a fixed seed), each subset with only the tests its own candidates wrote:

pass_at_1: share of candidates that pass the hidden tests (the unbiased estimate).
coverage_at_N: some candidate of the N passes them.
selected_at_N: the patch Quorum selects from the N passes them (the hybrid selection of
    quorum.solve, without a verifier, over the pass matrix of those N candidates and the
    tests they wrote, plus the repository's related tests); an abstention counts as a miss.
abstain_at_N: how often it abstains.
wrong_at_N: how often it selects a patch that fails them (selected + abstain + wrong = 1).

Each figure is the mean over tasks. An existing --out resumes (finished trajectories are kept).
Prints name=value lines, a table, and the wall time; writes results.json into --out (and,
with --report, bench_report.html: the table's figures as plots, via quorum.report).
--rescore recomputes the figures from a finished --out with the current selector (no model,
no grading): selector changes are compared on the same candidates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from agent.agentless import AgentlessConfig
from agent.rollout import RolloutConfig
from envs.candidate import Candidate
from envs.microtasks import materialize_tasks
from envs.repos import read_at_commit
from envs.sources.swebench import task_from_instance
from quorum.demo import passes_hidden
from quorum.models import endpoints_for
from quorum.paths import cache_dir
from quorum.sandboxes import sandbox_factory
from quorum.scaling import figures, select_from, summarize, summary_keys
from quorum.solve import SolveOptions, solve
from selection.matrix import PassMatrix
from selection.pool import base_texts, read_run_dir

# Distinct knobs for each of up to 8 samples (the rollout default repeats after 4).
TEMPERATURES = [0.0, 0.7, 0.9, 0.5, 0.8, 0.6, 1.0, 0.4]


def forget_unreachable(run_dir: Path, *, dry_run: bool = False) -> list[str]:
    """Trajectories that crashed because the model server was gone: removed, so that
    resuming the run redoes them (they say nothing about the model)."""
    found = []
    for path in sorted((run_dir / "trajectories").glob("*.json")):
        exit_ = json.loads(path.read_text()).get("exit") or {}
        if exit_.get("status") == "crashed" and "EndpointUnreachable" in exit_.get("reason", ""):
            found.append(path.stem)
            if not dry_run:
                path.unlink()
    return found


def base_files(task, cands: list[Candidate]) -> dict[str, str]:
    return base_texts(cands, lambda p: read_at_commit(task.repo, task.base_commit, p))


async def run_one(task, endpoints, solver: str, n: int, run_dir: Path, concurrency: int,
                  formats: list[str] | None = None):  # fmt: skip
    agentless = AgentlessConfig(formats=formats) if formats else AgentlessConfig()
    options = SolveOptions(
        rollout=RolloutConfig(
            n=n, solver=solver, concurrency=concurrency, temperatures=TEMPERATURES[:n] or [0.0],
            agentless=agentless,
        ),
        sandbox="local",
    )
    return await solve(task, endpoints, options, run_dir)


def solve_and_grade(task, solver: str, run_dir: Path, args) -> tuple[list[Candidate],
                                                                    dict[str, bool], str | None]:
    """Sample the candidates (resuming what exists), grade each on the hidden tests."""
    for _ in range(2):  # a model server that died is restarted, its victims redone
        forget_unreachable(run_dir)
        # A server per task: one that dies takes down one task's work, not the rest.
        with endpoints_for([args.model], os.environ, cache_dir=cache_dir(os.environ),
                           progress=print) as endpoints:  # fmt: skip
            outcome = asyncio.run(
                run_one(task, endpoints, solver, args.max_n, run_dir, args.concurrency,
                        args.formats.split(",") if args.formats else None)
            )
        if not forget_unreachable(run_dir, dry_run=True):
            break
    cands = [c for c in outcome.candidates if c.solver != "test_writer"]
    with sandbox_factory(task, "local", run_id="grade") as start:
        passed = {c.id: passes_hidden(task, c.patch, start) for c in cands}
    return cands, passed, outcome.selection.chosen


def _earlier_grades(out: Path) -> dict[str, dict[str, dict[str, bool]]]:
    """The grades of the newest results file (a finished run's, or a running one's)."""
    found = [out / n for n in ("results.json", "results.partial.json") if (out / n).is_file()]
    if not found:
        raise SystemExit(f"--rescore: no results.json in {out}")
    return json.loads(max(found, key=lambda p: p.stat().st_mtime).read_text())["grades"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solvers", default="agentless", help="comma list: agentless,agent,mixed")
    parser.add_argument("--tasks", default="", help="comma list of task names (default: all)")
    parser.add_argument("--max-n", type=int, default=8)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/small-model-scaling"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", default="",
                        help="agentless repair chain, e.g. function,search_replace,file "
                        "(default: the pipeline's)")  # fmt: skip
    parser.add_argument("--rescore", action="store_true",
                        help="no sampling or grading: recompute the figures from the saved "
                        "candidates, matrices and grades in --out with the current selector; "
                        "writes results.rescored.json")  # fmt: skip
    parser.add_argument("--report", action="store_true",
                        help="then write --out/bench_report.html (coverage and selected "
                        "against N, cost, reliability; `quorum report OUT` does the same)")
    args = parser.parse_args()
    started = time.monotonic()
    ns = [n for n in (1, 2, 4, 8) if n <= args.max_n]
    wanted = [t.strip() for t in args.tasks.split(",") if t.strip()]
    instances = materialize_tasks(args.out / "tasks")
    if wanted:
        instances = [i for i in instances if any(w in i.instance_id for w in wanted)]
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    results: dict[str, dict[str, dict[str, float]]] = {}
    grades: dict[str, dict[str, dict[str, bool]]] = {}
    earlier = _earlier_grades(args.out) if args.rescore else {}
    for solver in solvers:
        for inst in instances:
            task = task_from_instance(inst)
            t0 = time.monotonic()
            run_dir = args.out / solver / inst.instance_id
            if args.rescore:
                if inst.instance_id not in earlier.get(solver, {}):
                    continue  # not graded yet
                cands = read_run_dir(run_dir)
                passed = earlier[solver][inst.instance_id]
                cands = [c for c in cands if c.id in passed]  # graded ones only
                chosen = None  # set below: the current selector over all of them
            else:
                cands, passed, chosen = solve_and_grade(task, solver, run_dir, args)
            matrix = PassMatrix.model_validate_json((run_dir / "matrix.json").read_text())
            reg_file = run_dir / "regressions.json"
            regress = (
                PassMatrix.model_validate_json(reg_file.read_text()) if reg_file.exists() else None
            )
            files = base_files(task, cands)
            figs = figures(task.id, cands, matrix, regress, passed, ns, args.seed, files)
            if args.rescore:
                chosen = select_from(task.id, cands, matrix, regress, files)
            figs["selected_full_run"] = float(bool(chosen and passed.get(chosen)))
            results.setdefault(solver, {})[inst.instance_id] = figs
            grades.setdefault(solver, {})[inst.instance_id] = passed
            if not args.rescore:
                partial = {"per_task": results, "grades": grades}
                (args.out / "results.partial.json").write_text(json.dumps(partial, indent=1))
            print(f"{solver} {inst.instance_id}: {sum(passed.values())}/{len(passed)} pass, "
                  f"selected={chosen} "
                  f"({time.monotonic() - t0:.0f}s) {json.dumps(figs)}", flush=True)  # fmt: skip
    wall = time.monotonic() - started
    keys, every = summary_keys(ns)
    summary = {}
    for solver, per_task in results.items():
        summary[solver] = summarize(per_task, every)
        for k, v in summary[solver].items():
            print(f"{solver}_{k}={v:.3f}")
    print(f"\n| solver | tasks | {' | '.join(keys)} |")
    print("|" + " --- |" * (len(keys) + 2))
    for solver, row in summary.items():
        cells = " | ".join(f"{row[k]:.2f}" for k in keys)
        print(f"| {solver} | {len(results[solver])} | {cells} |")
    print(f"\nwall_s={wall:.0f} tasks={len(instances)} max_n={args.max_n} solvers={solvers}")
    name = "results.rescored.json" if args.rescore else "results.json"
    (args.out / name).write_text(json.dumps(
        {"summary": summary, "per_task": results, "grades": grades, "wall_s": wall,
         "max_n": args.max_n, "tasks": [i.instance_id for i in instances]}, indent=1))  # fmt: skip
    if args.report:  # bench_report.html: the table's figures drawn, from --out alone
        from quorum.report.bench_render import BENCH_HTML, write_bench_report

        write_bench_report(args.out, strict=True)
        print(f"report: {args.out / BENCH_HTML}")


if __name__ == "__main__":
    main()
