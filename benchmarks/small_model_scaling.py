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
Every run (and --rescore) also writes outcomes.jsonl into --out: the graded candidates as an
outcome table (quorum/outcomes.py) that `quorum simulate` replays.
--calibration: every sub-sample's selection becomes an example (the winner's support,
margin, cluster share, distinct fixes; right or not); prints the reliability table and the
expected calibration error of the raw confidence and of a logistic calibration fitted
leave-one-task-out, and the precision when answering at each N without and with it; writes
calibration.json (the fit on every task, for SelectConfig.calibration) and
calibration_report.json into --out. --calibration-pool (SWE-bench prediction files, pooled
per instance as `quorum select` pools them: patch-only signals) with --calibration-labels
(their *.result.json) adds those selections: reported alone (held out ten folds of
instances at a time) and as extra training data for the tasks' held-out fits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from agent.agentless import AgentlessConfig
from agent.llm import BudgetCaps, Ledger, LLMClient
from agent.rollout import RolloutConfig
from envs.candidate import Candidate
from envs.microtasks import materialize_tasks
from envs.repos import read_at_commit
from envs.sources.swebench import task_from_instance
from quorum.allocating import read_allocation
from quorum.demo import passes_hidden
from quorum.models import endpoints_for
from quorum.outcomes import from_run_dir, write_table
from quorum.paths import cache_dir
from quorum.sandboxes import sandbox_factory
from quorum.scaling import (
    calibration_examples,
    figures,
    select_from,
    subset_selections,
    summarize,
    summary_keys,
)
from quorum.solve import SolveOptions, solve
from selection.behaviour import BehaviourTable
from selection.calibration import (
    Example,
    brier_score,
    calibration_buckets,
    example_of,
    expected_calibration_error,
    fit,
    format_reliability,
    leave_one_group_out,
)
from selection.differential import probe_behaviour
from selection.hybrid import SelectConfig
from selection.matrix import PassMatrix
from selection.metrics import read_labels
from selection.pipeline import select_group
from selection.pool import base_texts, group_by_task, load_pool, read_run_dir

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
                  formats: list[str] | None = None, allocation: str = "fixed"):  # fmt: skip
    agentless = AgentlessConfig(formats=formats) if formats else AgentlessConfig()
    options = SolveOptions(
        rollout=RolloutConfig(
            n=n, solver=solver, concurrency=concurrency, temperatures=TEMPERATURES[:n] or [0.0],
            agentless=agentless,
        ),
        sandbox="local",
        allocation=allocation,
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
                        args.formats.split(",") if args.formats else None, args.allocation)
            )
        if not forget_unreachable(run_dir, dry_run=True):
            break
    cands = [c for c in outcome.candidates if c.solver != "test_writer"]
    with sandbox_factory(task, "local", run_id="grade") as start:
        passed = {c.id: passes_hidden(task, c.patch, start) for c in cands}
    return cands, passed, outcome.selection.chosen


def recorded_behaviour(run_dir: Path, task, cands: list[Candidate], files: dict[str, str],
                       args) -> BehaviourTable | None:  # fmt: skip
    """The task's behaviour probe over all its graded candidates (the model writes the
    calls once, every distinct patch runs them): read from run_dir/behaviour.json, or
    made and saved there. Sub-samples use it cut to their candidates."""
    path = run_dir / "behaviour.json"
    if path.is_file():
        return BehaviourTable.model_validate_json(path.read_text())
    group = group_by_task(cands, {task.id: files}).get(task.id)
    if group is None or len(group.clusters()) < 2:
        return None
    with endpoints_for([args.model], os.environ, cache_dir=cache_dir(os.environ),
                       progress=print) as endpoints:  # fmt: skip

        async def go() -> BehaviourTable:
            async with LLMClient(endpoints[0], Ledger(BudgetCaps())) as client:
                with sandbox_factory(task, "local", run_id="probe") as start:
                    return await probe_behaviour(group, task.problem_statement, client, start,
                                                 files, concurrency=args.concurrency)  # fmt: skip

        table = asyncio.run(go())
    if table.usable:  # a probe that gave nothing (a failed model call, say) is tried again
        path.write_text(table.model_dump_json(indent=1))
    return table


def live_figures(run_dir: Path, cands: list[Candidate], passed: dict[str, bool],
                 chosen: str | None) -> dict[str, float]:  # fmt: skip
    """What the run itself did, not a sub-sample: its answer (right, wrong or none), the
    tokens its ledger counted (cost.json: every call, cancelled trajectories' too) and the
    solver candidates it finished; with a policy, the trajectories it launched."""
    total = json.loads((run_dir / "cost.json").read_text())["total"]
    out = {
        "live_selected": float(bool(chosen and passed.get(chosen))),
        "live_wrong": float(bool(chosen and not passed.get(chosen))),
        "live_abstain": float(chosen is None),
        "live_tokens": float(total["prompt_tokens"] + total["completion_tokens"]),
        "live_candidates": float(len(cands)),
    }
    allocation = read_allocation(run_dir, len(cands))
    if allocation is not None:
        out["live_launched"] = float(allocation.launched)
        out["live_cancelled"] = float(allocation.cancelled)
    return out


def _earlier_grades(out: Path) -> dict[str, dict[str, dict[str, bool]]]:
    """The grades of the newest results file (a finished run's, or a running one's)."""
    found = [out / n for n in ("results.json", "results.partial.json") if (out / n).is_file()]
    if not found:
        raise SystemExit(f"--rescore: no results.json in {out}")
    return json.loads(max(found, key=lambda p: p.stat().st_mtime).read_text())["grades"]


class Recorded(NamedTuple):
    """One graded task's recorded evidence, as the figures were computed from it."""

    task_id: str
    cands: list[Candidate]
    matrix: PassMatrix | None
    regress: PassMatrix | None
    files: dict[str, str]
    passed: dict[str, bool]


def write_outcomes(out: Path, grades: dict[str, dict[str, dict[str, bool]]]) -> Path:
    """outcomes.jsonl: every graded task's run directory as an outcome-table line."""
    rows = [from_run_dir(out / solver / task, labels, source=f"{out.name} {solver}")
            for solver, per_task in grades.items()
            for task, labels in per_task.items()]  # fmt: skip
    write_table(rows, out / "outcomes.jsonl")
    return out / "outcomes.jsonl"


def _answers(rec: Recorded, ns: list[int], seed: int, config: SelectConfig | None
             ) -> dict[int, list[int]]:  # fmt: skip
    """N -> [selections, answered, answered right] over the task's sub-samples."""
    out: dict[int, list[int]] = {}
    for n, _subset, sel in subset_selections(rec.task_id, rec.cands, rec.matrix, rec.regress,
                                             ns, seed, rec.files, config):  # fmt: skip
        row = out.setdefault(n, [0, 0, 0])
        row[0] += 1
        row[1] += sel.chosen is not None
        row[2] += bool(sel.chosen and rec.passed.get(sel.chosen))
    return out


def pool_examples(sources: list[Path], labels: list[Path]) -> list[Example]:
    """Each instance's selection over other systems' pooled predictions (patch-only: no
    tests, no base files), as an example where its winner is graded."""
    groups = group_by_task(load_pool(sources).candidates)
    grades: dict[str, bool] = {}
    for path in labels:
        grades.update(read_labels(path, groups))
    found = (example_of(asyncio.run(select_group(g)), grades) for g in groups.values())
    return [e for e in found if e is not None]


def _print_scores(title: str, name: str, probs: list[float], truth: list[bool],
                  report: dict, *, table: bool = True) -> None:  # fmt: skip
    buckets = calibration_buckets(probs, truth)
    ece, brier = expected_calibration_error(buckets), brier_score(probs, truth)
    report[name] = {"ece": ece, "brier": brier, "buckets": [b.model_dump() for b in buckets]}
    print(f"\n{title}: ece_{name}={ece:.3f} brier_{name}={brier:.3f}")
    if table:
        print(format_reliability(buckets))


def _pool_report(examples: list[Example], pooled: list[Example], report: dict) -> None:
    """The pools alone (ten folds of instances), and the tasks' held-out fits with the
    pools added to what they learn from (a pool instance never shares a task's id)."""
    truth = [e.correct for e in pooled]
    print(f"\n## pooled predictions: {len(pooled)} graded instance selections (patch-only)")
    _print_scores("raw confidence (support)", "pool_raw", [e.raw for e in pooled], truth,
                  report)  # fmt: skip
    _print_scores("calibrated, ten folds of instances held out", "pool_folds",
                  leave_one_group_out(pooled, folds=10)[0], truth, report)  # fmt: skip
    fits = {t: fit([e for e in examples if e.group != t] + pooled)
            for t in {e.group for e in examples}}  # fmt: skip
    mine = [fits[e.group].probability(e.features) for e in examples]
    _print_scores("the tasks, leave-one-task-out, trained with the pools too", "loto_with_pools",
                  mine, [e.correct for e in examples], report)  # fmt: skip


def calibration_report(out: Path, recorded: list[Recorded], ns: list[int], seed: int,
                       pooled: list[Example] | None = None) -> None:  # fmt: skip
    examples = [e for r in recorded for e in calibration_examples(
        r.task_id, r.cands, r.matrix, r.regress, r.passed, ns, seed, r.files)]  # fmt: skip
    tasks = sorted({e.group for e in examples})
    if len(tasks) < 2:
        print("calibration: needs selections on at least two graded tasks")
        return
    loto, fits = leave_one_group_out(examples)
    truth = [e.correct for e in examples]
    probs = {"raw": [e.raw for e in examples], "loto": loto,
             "base_rate": leave_one_group_out(examples, features=())[0]}  # fmt: skip
    report: dict = {"examples": len(examples), "tasks": tasks, "ns": ns, "seed": seed}
    print(f"\n## calibration: {len(examples)} selections on {len(tasks)} tasks "
          f"(every sub-sample at N in {ns}; the winner right or not)")  # fmt: skip
    for name, title in (("raw", "raw confidence (support)"),
                        ("loto", "calibrated, leave-one-task-out"),
                        ("base_rate", "the other tasks' base rate, for scale")):  # fmt: skip
        _print_scores(title, name, probs[name], truth, report, table=name != "base_rate")
    if pooled:
        _pool_report(examples, pooled, report)
    whole = fit(examples)
    by_n: dict[int, list[int]] = {}
    for rec in recorded:
        cal = SelectConfig(calibration=fits.get(rec.task_id, whole))
        for config, offset in ((None, 0), (cal, 3)):
            for n, row in _answers(rec, ns, seed, config).items():
                acc = by_n.setdefault(n, [0] * 6)
                for i, v in enumerate(row):
                    acc[offset + i] += v
    print("\n| N | selections | answered raw | precision raw | answered calibrated | "
          "precision calibrated |\n| --- | --- | --- | --- | --- | --- |")  # fmt: skip
    report["by_n"] = {}
    for n, (k, ans, right, _k, cans, cright) in sorted(by_n.items()):
        prec, cprec = (right / ans if ans else 0.0), (cright / cans if cans else 0.0)
        report["by_n"][n] = {"selections": k, "answered_raw": ans, "precision_raw": prec,
                             "answered_calibrated": cans, "precision_calibrated": cprec}
        print(f"| {n} | {k} | {ans} | {prec:.3f} | {cans} | {cprec:.3f} |")
    day = datetime.now(UTC).date().isoformat()
    whole = whole.model_copy(update={"fitted_on": (
        f"{out.name}: {len(examples)} selections (the default cascade, no verifier) on every "
        f"sub-sample at N in {ns} (at most 70 each, seed {seed}) of {len(tasks)} graded "
        f"tasks ({', '.join(tasks)}); fitted {day} by benchmarks/small_model_scaling.py "
        "--rescore --calibration")})  # fmt: skip
    (out / "calibration.json").write_text(whole.model_dump_json(indent=1) + "\n")
    (out / "calibration_report.json").write_text(json.dumps(report, indent=1))
    print(f"\ncalibration: {out / 'calibration.json'} (fit on every task)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solvers", default="agentless", help="comma list: agentless,agent,mixed")
    parser.add_argument("--tasks", default="", help="comma list of task names (default: all)")
    parser.add_argument("--max-n", type=int, default=8)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/small-model-scaling"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--allocation", default="fixed", choices=["fixed", "consensus", "adaptive"],
                        help="the live run's allocation policy (quorum solve --allocation); "
                        "the live_* figures are that run's own answer, tokens and trajectories")
    parser.add_argument("--formats", default="",
                        help="agentless repair chain, e.g. function,search_replace,file "
                        "(default: the pipeline's)")  # fmt: skip
    parser.add_argument("--rescore", action="store_true",
                        help="no sampling or grading: recompute the figures from the saved "
                        "candidates, matrices and grades in --out with the current selector; "
                        "writes results.rescored.json")  # fmt: skip
    parser.add_argument("--probe-behaviour", action="store_true",
                        help="selection with the behaviour signal: per task the model writes "
                        "probe calls once and every distinct patch runs them (saved as "
                        "behaviour.json in the task's run directory, reused by --rescore)")
    parser.add_argument("--report", action="store_true",
                        help="then write --out/bench_report.html (coverage and selected "
                        "against N, cost, reliability; `quorum report OUT` does the same)")
    parser.add_argument("--calibration", action="store_true",
                        help="then the leave-one-task-out calibration report; writes "
                        "calibration.json and calibration_report.json into --out")  # fmt: skip
    parser.add_argument("--calibration-pool", type=Path, action="append", default=[],
                        help="with --calibration: a SWE-bench predictions file (repeatable)")
    parser.add_argument("--calibration-labels", type=Path, action="append", default=[],
                        help="... and its official *.result.json (repeatable)")
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
    recorded: list[Recorded] = []
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
            table = (recorded_behaviour(run_dir, task, cands, files, args)
                     if args.probe_behaviour else None)  # fmt: skip
            if table is not None:
                print(f"{inst.instance_id}: behaviour probe {len(table.calls)} call(s), "
                      f"{len(table.clusters)} behaviour(s), {table.tokens} tokens, "
                      f"{table.seconds:.0f}s{'; ' + table.note if table.note else ''}")
            figs = figures(task.id, cands, matrix, regress, passed, ns, args.seed, files,
                           behaviour=table)  # fmt: skip
            if args.rescore:
                chosen = select_from(task.id, cands, matrix, regress, files, behaviour=table)
            figs["selected_full_run"] = float(bool(chosen and passed.get(chosen)))
            figs.update(live_figures(run_dir, cands, passed, chosen))
            results.setdefault(solver, {})[inst.instance_id] = figs
            recorded.append(Recorded(task.id, cands, matrix, regress, files, passed))
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
    live = ["live_selected", "live_wrong", "live_abstain", "live_candidates", "live_tokens"]
    for solver, per_task in results.items():
        summary[solver] = summarize(per_task, every + live)
        summary[solver]["live_tokens_total"] = sum(f["live_tokens"] for f in per_task.values())
        for k, v in summary[solver].items():
            print(f"{solver}_{k}={v:.3f}")
    print(f"\n| solver | tasks | {' | '.join(keys)} |")
    print("|" + " --- |" * (len(keys) + 2))
    for solver, row in summary.items():
        cells = " | ".join(f"{row[k]:.2f}" for k in keys)
        print(f"| {solver} | {len(results[solver])} | {cells} |")
    print(f"\nwall_s={wall:.0f} tasks={len(instances)} max_n={args.max_n} solvers={solvers} "
          f"allocation={args.allocation}")
    name = "results.rescored.json" if args.rescore else "results.json"
    (args.out / name).write_text(json.dumps(
        {"summary": summary, "per_task": results, "grades": grades, "wall_s": wall,
         "max_n": args.max_n, "allocation": args.allocation,
         "tasks": [i.instance_id for i in instances]}, indent=1))  # fmt: skip
    print(f"outcomes: {write_outcomes(args.out, grades)}")
    if args.calibration:
        pooled = (pool_examples(args.calibration_pool, args.calibration_labels)
                  if args.calibration_pool else None)  # fmt: skip
        calibration_report(args.out, recorded, ns, args.seed, pooled)
    if args.report:  # bench_report.html: the table's figures drawn, from --out alone
        from quorum.report.bench_render import BENCH_HTML, write_bench_report

        write_bench_report(args.out, strict=True)
        print(f"report: {args.out / BENCH_HTML}")


if __name__ == "__main__":
    main()
