"""`quorum simulate` through the real CLI: the committed recorded table replays and prints
every figure; a synthetic run is reproducible from its seed and says its parameters; a
malformed table line is one `error: FILE:LINE: ...`; tables built from run directories
match the committed one; the Beta fit is the beta-binomial method of moments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quorum.allocation import ConsensusPolicy, FixedPolicy
from quorum.cli import app
from quorum.outcomes import OutcomeCandidate, OutcomeInstance, from_run_dir, read_table
from quorum.simulate import SimConfig, run_policy
from quorum.synthetic import FitError, SyntheticSpec, fit_beta, generate

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "benchmarks" / "data" / "recorded_outcomes.jsonl"
RUN_SMALL = ROOT / "tests" / "fixtures" / "run_small"


def _quorum(*args: str):
    return CliRunner().invoke(app, ["simulate", *args])


def _values(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def test_the_committed_table_replays_with_every_figure(tmp_path: Path) -> None:
    result = _quorum(str(TABLE), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    values = _values(result.output)
    for policy in ("fixed", "consensus", "adaptive"):
        for figure in ("accuracy", "abstention", "cost_usd", "trajectories"):
            assert f"{policy}_{figure}" in values
    for key in ("cost_ratio_consensus_vs_fixed", "accuracy_delta_consensus_vs_fixed",
                "cost_ratio_adaptive_vs_fixed", "accuracy_delta_adaptive_vs_fixed"):
        assert key in values
    assert float(values["cost_ratio_consensus_vs_fixed"]) < 1
    rows = json.loads((tmp_path / "r.json").read_text())["instances"]
    calc = {r["policy"]: r for r in rows if r["instance_id"].startswith("calc-")}
    # run_small: the two right fixes share a cluster and pass both validated tests, so
    # consensus stops when the third finishes, cancelling the fourth; fixed runs all 4
    assert calc["fixed"]["finished"] == 4 and calc["fixed"]["cancelled"] == 0
    assert calc["consensus"]["finished"] == 3 and calc["consensus"]["cancelled"] == 1
    assert calc["fixed"]["resolved"] and calc["consensus"]["resolved"]
    assert "2 candidates in cluster" in calc["consensus"]["reason"]


def test_a_table_from_the_run_directory_is_the_committed_one() -> None:
    [committed] = [i for i in read_table(TABLE) if i.instance_id.startswith("calc-")]
    labels = {c.id: bool(c.resolved) for c in committed.candidates}
    built = from_run_dir(RUN_SMALL, labels, source=committed.source)
    assert built == committed


def test_a_synthetic_run_is_reproducible_and_states_its_parameters(tmp_path: Path) -> None:
    args = ["--synthetic", "--instances", "25", "--seed", "7", "--max-n", "6"]
    first = _quorum(*args, "--json", str(tmp_path / "a.json"))
    again = _quorum(*args)
    other = _quorum("--synthetic", "--instances", "25", "--seed", "8", "--max-n", "6")
    assert first.exit_code == 0, first.output
    assert first.output == again.output
    assert other.output != first.output
    values = _values(first.output)
    assert values["table"] == "synthetic"
    fit = json.loads(values["beta_fit"])
    assert fit["method"] == "method of moments (beta-binomial)" and fit["instances"] == 10
    assert json.loads(values["synthetic"])["seed"] == 7
    report = json.loads((tmp_path / "a.json").read_text())
    assert len(report["instances"]) == 3 * 25
    assert all(r["finished"] <= 6 for r in report["instances"])


def test_a_malformed_table_line_is_file_and_line(tmp_path: Path) -> None:
    lines = TABLE.read_text().splitlines()
    bad = json.loads(lines[0]) | {"instance_id": "second"}
    bad["candidates"][0]["verifier"] = 2.5
    table = tmp_path / "t.jsonl"
    table.write_text(lines[0] + "\n" + json.dumps(bad) + "\n{not json\n")
    result = _quorum(str(table))
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {table}:2 (second): candidates.0.verifier")
    assert "Traceback" not in result.output


def test_no_table_is_an_error_with_a_hint() -> None:
    result = _quorum()
    assert result.exit_code == 1
    assert "error: no outcome table given" in result.output and "--synthetic" in result.output


def test_the_beta_fit_is_the_method_of_moments() -> None:
    counts = [(1, 8), (3, 8), (3, 8), (6, 8), (3, 8), (1, 8), (2, 8), (1, 8), (2, 8), (4, 8)]
    fit = fit_beta(counts)
    assert fit.a / (fit.a + fit.b) == pytest.approx(26 / 80)
    # Var(k/n) = m(1-m) (1/n + (1-1/n) / (a+b+1)); population variance of the rates: 0.035
    m = 26 / 80
    assert m * (1 - m) * (1 / 8 + (7 / 8) / (fit.a + fit.b + 1)) == pytest.approx(0.035)
    with pytest.raises(FitError):
        fit_beta([(2, 4)])


def test_synthetic_candidates_are_consistent() -> None:
    spec = SyntheticSpec(instances=40, n=8, beta_a=1.0, beta_b=1.0, seed=1)
    for inst in generate(spec):
        right = [c for c in inst.candidates if c.resolved]
        assert all(c.cluster == "fix" for c in right)
        assert len({json.dumps(c.tests, sort_keys=True) for c in right}) <= 1
        for c in right:  # a right fix passes every test but those wrong ones wrote
            assert all(c.tests[t] for t in inst.given_tests)
        by_cluster: dict[str, set[str]] = {}
        for c in inst.candidates:
            by_cluster.setdefault(c.cluster, set()).add(json.dumps(c.tests, sort_keys=True))
        assert all(len(rows) == 1 for rows in by_cluster.values())  # members behave alike


def _row(cid: str, cluster: str, right: bool) -> OutcomeCandidate:
    return OutcomeCandidate(id=cid, resolved=right, cluster=cluster, cost_usd=0.01,
                            tests={"t": right})  # fmt: skip


def test_a_run_wide_budget_moves_what_settled_instances_save_to_open_ones() -> None:
    easy = OutcomeInstance(instance_id="easy", given_tests=["t"],
                           candidates=[_row(f"e{i}", "fix", True) for i in range(8)])  # fmt: skip
    hard = OutcomeInstance(
        instance_id="hard", given_tests=["t"],
        candidates=[_row(f"h{i}", f"w{i}", False) for i in range(5)]
        + [_row(f"h{i}", "fix", True) for i in range(5, 8)],
    )  # fmt: skip
    config = SimConfig(budget_usd_total=0.085)
    fixed = run_policy([easy, hard], FixedPolicy(), config)
    consensus = run_policy([easy, hard], ConsensusPolicy(k=2), config)
    assert [r.finished for r in fixed] == [4, 4]  # half the budget each; the cap ends the rest
    assert not fixed[1].resolved and "budget cap" in fixed[1].reason
    # easy: 2 agree, a third is cancelled at half its cost: 0.025; hard gets 0.06
    assert consensus[0].finished == 2 and consensus[0].cancelled == 1
    assert consensus[0].cost_usd == pytest.approx(0.025) and consensus[1].finished == 6
    assert consensus[1].resolved  # the saving bought the hard instance its first fix
    for rows in (fixed, consensus):
        assert sum(r.cost_usd for r in rows) <= 0.085 + 1e-9


def test_a_free_models_cost_ratio_is_its_token_ratio_not_zero() -> None:
    """The embedded model costs $0: the ratio of dollars would be 0/0."""
    from quorum.simulate import PolicyFigures, comparisons

    def figs(policy: str, usd: float, tokens: float) -> PolicyFigures:
        return PolicyFigures(policy=policy, instances=1, graded=1, accuracy=1, abstention=0,
                             wrong=0, coverage=1, cost_usd=usd, tokens=tokens,
                             trajectories=1)  # fmt: skip

    free = comparisons({"fixed": figs("fixed", 0, 1000), "consensus": figs("consensus", 0, 600)})
    assert free["cost_ratio_consensus_vs_fixed"] == 0.6 == free["token_ratio_consensus_vs_fixed"]
    paid = comparisons({"fixed": figs("fixed", 2.0, 1000),
                        "consensus": figs("consensus", 1.0, 900)})  # fmt: skip
    assert paid["cost_ratio_consensus_vs_fixed"] == 0.5
    assert paid["token_ratio_consensus_vs_fixed"] == 0.9
    untold = comparisons({"fixed": figs("fixed", 2.0, 0), "consensus": figs("consensus", 1.0, 0)})
    assert untold == {"cost_ratio_consensus_vs_fixed": 0.5,
                      "accuracy_delta_consensus_vs_fixed": 0.0}  # fmt: skip


def test_tables_without_token_counts_print_no_tokens() -> None:
    """Synthetic tables count dollars only: no tokens column of zeros, no 0/0 ratio."""
    from quorum.simulate import PolicyFigures, SimReport, comparisons, format_report

    def figs(policy: str, usd: float) -> PolicyFigures:
        return PolicyFigures(policy=policy, instances=1, graded=1, accuracy=1, abstention=0,
                             wrong=0, coverage=1, cost_usd=usd, tokens=0, trajectories=1)

    both = {"fixed": figs("fixed", 2.0), "consensus": figs("consensus", 1.0)}
    text = format_report(SimReport(parameters={}, figures=both, comparisons=comparisons(both),
                                   instances=[]))  # fmt: skip
    assert "cost_ratio_consensus_vs_fixed=0.5000" in text
    assert "token" not in text
