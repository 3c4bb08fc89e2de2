"""`quorum simulate`: replay the allocation policies (fixed, consensus, adaptive) over
outcome tables, recorded or synthetic, with the same maximum N for every policy, and print
per policy accuracy, abstention, cost and the comparisons with `fixed`. Every pick is made
by the real selector over what the policy paid for (quorum.simulate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envs.loader import load_json
from quorum.allocation import POLICIES, UnknownPolicy, make_policy
from quorum.outcomes import (
    OutcomeInstance,
    OutcomeTableError,
    from_bench_dir,
    from_run_dir,
    read_table,
    write_table,
)
from quorum.simulate import SimConfig, format_report, simulate
from quorum.synthetic import SyntheticSpec, counts_of, fit_beta, generate, read_counts
from sandbox.errors import QuorumError

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
DEFAULT_COUNTS = DATA / "embedded_pass_counts.jsonl"


def _labels(path: Path | None) -> dict[str, bool]:
    if path is None:
        return {}
    raw = load_json(path, what="labels", error=OutcomeTableError)
    if not isinstance(raw, dict) or not all(isinstance(v, bool) for v in raw.values()):
        raise OutcomeTableError("labels must be a JSON object: candidate id -> true/false",
                                path=path)  # fmt: skip
    return raw


def _recorded(tables: list[Path], runs: list[Path], benches: list[Path],
              labels: Path | None) -> list[OutcomeInstance]:  # fmt: skip
    found = [inst for path in tables for inst in read_table(path)]
    found += [from_run_dir(run, _labels(labels)) for run in runs]
    found += [inst for bench in benches for inst in from_bench_dir(bench)]
    return found


def simulate_command(
    tables: Annotated[list[Path] | None, typer.Argument(help="Outcome tables (.jsonl).")] = None,
    table_files: Annotated[
        list[Path] | None,
        typer.Option("--table", help="An outcome table (repeatable), e.g. BENCH/outcomes.jsonl, "
                     "which every `quorum bench` writes."),
    ] = None,
    from_run: Annotated[
        list[Path] | None, typer.Option(help="A run directory (repeatable) as a table line.")
    ] = None,
    from_bench: Annotated[
        list[Path] | None, typer.Option(help="A `quorum bench --out` directory (repeatable).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="--from-run grades: JSON candidate id -> true/false.")
    ] = None,
    write: Annotated[
        Path | None, typer.Option(help="Also write the table replayed (recorded or synthetic).")
    ] = None,
    synthetic: Annotated[bool, typer.Option(help="Generate the table (Beta difficulty).")] = False,
    instances: Annotated[int, typer.Option(help="Synthetic instances.")] = 200,
    seed: Annotated[int, typer.Option(help="Synthetic seed.")] = 0,
    beta_a: Annotated[float | None, typer.Option(help="Synthetic Beta a (else fitted).")] = None,
    beta_b: Annotated[float | None, typer.Option(help="Synthetic Beta b (else fitted).")] = None,
    fit: Annotated[
        list[Path] | None,
        typer.Option(help="Fit the Beta to these graded tables (default: the committed counts, "
                     "benchmarks/data/embedded_pass_counts.jsonl)."),
    ] = None,
    fit_counts: Annotated[
        Path | None, typer.Option(help="Fit the Beta to a pass-counts file.")
    ] = None,
    max_n: Annotated[int, typer.Option(help="Most trajectories per instance, any policy.")] = 8,
    k: Annotated[
        int | None, typer.Option(help="Consensus/adaptive: candidates that must agree (2).")
    ] = None,
    parallel: Annotated[
        int | None, typer.Option(help="Consensus/adaptive: running at once (consensus: k; "
                                 "adaptive: 1).")
    ] = None,
    min_gain: Annotated[
        float | None, typer.Option(help="Adaptive: stop below this gain (0: never).")
    ] = None,
    independent_tests: Annotated[
        int | None, typer.Option(help="Consensus/adaptive: validated tests the agreeing cluster "
                                 "passes that it did not write itself (consensus 0, adaptive 2).",
                                 min=0)
    ] = None,
    settle_verifier: Annotated[
        float | None, typer.Option(help="Adaptive: the verifier score that backs the "
                                   "selector's answer (0.7).", min=0, max=1)
    ] = None,
    settle_independent: Annotated[
        int | None, typer.Option(help="Adaptive: tests written outside its cluster the "
                                 "selector's answer must pass to settle (1).", min=0)
    ] = None,
    settle_unrivalled: Annotated[
        bool | None, typer.Option("--settle-unrivalled/--settle-rivalled",
                                  help="Adaptive: also require that no other cluster passes "
                                  "as many validated tests (default: not required).")
    ] = None,
    policies: Annotated[str, typer.Option(help=f"Comma list of {', '.join(POLICIES)}.")] = (
        "fixed,consensus,adaptive"),
    partial_share: Annotated[float, typer.Option(help="Cost share of a cancelled one.")] = 0.5,
    budget_usd: Annotated[float | None, typer.Option(help="Per-instance cap.")] = None,
    budget_usd_total: Annotated[float | None, typer.Option(help="Run-wide cap.")] = None,
    verifier: Annotated[
        bool, typer.Option(help="Use recorded verifier scores (policies and selector).")
    ] = True,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report (per instance too).")
    ] = None,
) -> None:
    params: dict = {}
    if synthetic:
        if beta_a is None or beta_b is None:
            counts = (counts_of(_recorded(fit, [], [], None)) if fit
                      else read_counts(fit_counts or DEFAULT_COUNTS))  # fmt: skip
            beta = fit_beta(counts)
            beta_a, beta_b = beta_a or beta.a, beta_b or beta.b
            params["beta_fit"] = beta.model_dump()
            params["beta_fit_source"] = [str(p) for p in fit] if fit else str(
                fit_counts or DEFAULT_COUNTS)
        spec = SyntheticSpec(instances=instances, n=max_n, beta_a=beta_a, beta_b=beta_b,
                             seed=seed)  # fmt: skip
        table = generate(spec)
        params = {"table": "synthetic", **params, "synthetic": spec.model_dump()}
    else:
        tables = [*(tables or []), *(table_files or [])]
        table = _recorded(tables, from_run or [], from_bench or [], labels)
        if not table:
            raise OutcomeTableError("no outcome table given",
                                    hint="name a table, --from-run, --from-bench or --synthetic")
        params["table"] = [str(p) for p in [*(tables or []), *(from_run or []),
                                            *(from_bench or [])]]  # fmt: skip
    if write:
        write_table(table, write)
    names = [n.strip() for n in policies.split(",") if n.strip()]
    if not names:
        raise UnknownPolicy("no policy named", hint=f"one of {', '.join(POLICIES)}")
    # only what was given: the rest are the policies' own defaults (as in a live run)
    agree = {"k": k, "parallel": parallel, "independent_tests": independent_tests}
    settle = {"min_gain": min_gain, "settle_verifier": settle_verifier,
              "settle_independent": settle_independent,
              "settle_unrivalled": settle_unrivalled}  # fmt: skip
    options = {"fixed": {},
               "consensus": {n: v for n, v in agree.items() if v is not None},
               "adaptive": {n: v for n, v in {**agree, **settle}.items() if v is not None}}
    chosen = [make_policy(n, options.get(n)) for n in names]
    config = SimConfig(max_n=max_n, partial_share=partial_share, budget_usd=budget_usd,
                       budget_usd_total=budget_usd_total, use_verifier=verifier)  # fmt: skip
    report = simulate(table, chosen, config, params)
    if json_out:
        try:
            json_out.write_text(report.model_dump_json(indent=1))
        except OSError as exc:
            raise QuorumError(f"cannot write {json_out}: {exc.strerror}") from exc
    typer.echo(format_report(report))
