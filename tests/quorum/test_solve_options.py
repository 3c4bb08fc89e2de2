"""One options model for `quorum solve` and `quorum bench`: every shared scaling, selection,
budget and test-network option is the same flag, with the same help and default, in both
(`quorum/commands/solve_options.py`), and it reaches SolveOptions the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from quorum.cli import app
from quorum.commands import solve_options as so


def _params(name: str) -> dict[str, Any]:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params if p.name}


def _help(name: str) -> str:
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_shared_option_is_the_same_flag_in_solve_and_bench() -> None:
    solve, bench = _params("solve"), _params("bench")
    solve_help, bench_help = _help("solve"), _help("bench")
    for name in so.SHARED:
        a, b = solve[name], bench[name]
        assert a.param_type_name == b.param_type_name == "option", name
        assert (a.opts, a.secondary_opts, a.help, a.default, a.multiple) == (
            b.opts, b.secondary_opts, b.help, b.default, b.multiple), name  # fmt: skip
        assert a.default == so.DEFAULTS[name] or (a.default is None and not so.DEFAULTS[name])
        for flag in a.opts:
            assert flag in solve_help and flag in bench_help, flag
    assert solve["n"].opts == ["-n", "--trajectories"]  # -n: trajectories in both
    assert "--slice" in bench_help  # the instance slice has its own flag
    assert "budget_usd_per_instance" not in bench and "trajectories" not in bench


def test_shared_values_become_solve_options() -> None:
    values = dict(so.DEFAULTS, n=3, rounds=2, test_writers=1, solver="mixed", budget_usd=1.5,
                  budget_tokens=1000, budget_usd_per_trajectory=0.25, selection_agent=True,
                  select_method="votes", abstain_below=0.2, concurrency=2, max_steps=7,
                  test_network="bridge")  # fmt: skip
    options = so.build_solve_options(**so.shared_values(values), sandbox="local")
    assert (options.rollout.n, options.rollout.rounds, options.rollout.test_writers) == (3, 2, 1)
    assert options.rollout.solver == "mixed" and options.rollout.concurrency == 2
    assert options.rollout.limits.max_steps == 7 and options.sandbox == "local"
    assert (options.budget_usd, options.budget_tokens) == (1.5, 1000)
    assert options.budget_usd_per_trajectory == 0.25 and options.selection_agent
    assert options.selection.method == "votes" and options.selection.threshold == 0.2
    assert options.test_network == "bridge"
    assert so.build_solve_options().test_network == "none"  # tests get no network by default


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--solver", "big", "--solver must be auto, agent, agentless or mixed"),
        ("--select-method", "random", "--select-method must be one of"),
        ("--test-network", "wifi", "--test-network must be none or bridge, not 'wifi'"),
    ],
)
def test_bench_refuses_a_bad_choice_as_solve_does(
    tmp_path: Path, flag: str, value: str, message: str
) -> None:
    dataset = tmp_path / "instances.jsonl"
    dataset.write_text("")
    runner = CliRunner()
    bench = runner.invoke(app, ["bench", "--dataset", str(dataset), "--out",
                                str(tmp_path / "b"), flag, value])  # fmt: skip
    solve = runner.invoke(app, ["solve", str(tmp_path), "--issue", "x", flag, value])
    for result in (bench, solve):
        assert result.exit_code == 1, result.output
        assert f"error: {message}" in result.output
    assert not (tmp_path / "b").exists()


def test_eval_and_select_take_test_network_none_or_bridge(tmp_path: Path) -> None:
    dataset = tmp_path / "instances.jsonl"
    dataset.write_text("")
    runner = CliRunner()
    ev = runner.invoke(app, ["eval", "--gold", "--dataset", str(dataset),
                             "--test-network", "host"])  # fmt: skip
    sel = runner.invoke(app, ["select", str(tmp_path), "--test-network", "host"])
    for result in (ev, sel):
        assert result.exit_code == 1, result.output
        assert "error: --test-network must be none or bridge, not 'host'" in result.output
    assert "--network" not in _help("eval").replace("--test-network", "")
