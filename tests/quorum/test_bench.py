"""`quorum bench` on two micro-tasks with scripted models in real Docker sandboxes: one
instance solved, one wrongly; predictions in the official format; grading, metrics; a
second run resumes (the finished instance is skipped, the model is not asked again); the
outcome table it leaves replays in `quorum simulate`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.microtasks import materialize_tasks
from quorum.bench import BenchOptions, _executor, pass_at_k, read_records, run_bench
from quorum.cli import app
from quorum.solve import SolveOptions
from sandbox.config import HOST_CA_BUNDLE
from sandbox.errors import QuorumError
from tests.agent.scripted import fix_script
from tests.helpers.openai_standin import OpenAIStandIn

# Wrong: `items or []` fixes the shared default but still mutates a caller's list.
BASKET = fix_script(
    "from basket import Basket\n\n\ndef test_issue():\n    Basket().add('x')\n"
    "    assert Basket().count() == 0\n",
    "basket.py",
    "self.items = items\n",
    "self.items = items or []\n",
)
WINDOWS = fix_script(
    "from windows import sliding_windows\n\n\ndef test_issue():\n"
    "    assert sliding_windows([1, 2, 3], 3) == [[1, 2, 3]]\n",
    "windows.py",
    "range(len(items) - size)]",
    "range(len(items) - size + 1)]",
)


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)


@pytest.mark.docker
def test_bench_solves_grades_and_resumes(tmp_path: Path) -> None:
    instances = materialize_tasks(tmp_path / "tasks", ids=["micro__basket-1", "micro__windows-1"])
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    options = BenchOptions(
        out=tmp_path / "bench",
        grade=True,
        solve=SolveOptions(
            rollout=RolloutConfig(n=1, concurrency=1), budget_usd=1.0, ca_bundle=bundle
        ),
    )
    with OpenAIStandIn() as server:
        endpoint = ModelConfig(
            name="m", base_url=server.base_url, api_key_env=None, free=True
        ).resolve({})
        server.script_for("m", *BASKET)
        first = asyncio.run(run_bench(instances[:1], [endpoint], options))
        assert first["done_instances"] == 1 and first["resolved_instances"] == 0
        assert len((tmp_path / "bench" / "outcomes.jsonl").read_text().splitlines()) == 1
        server.script_for("m", *WINDOWS)  # only the unfinished instance may use it
        report = asyncio.run(run_bench(instances, [endpoint], options))
        assert server.pending == 0

    assert report["done_instances"] == 2 and report["resolved_ids"] == ["micro__windows-1"]
    assert report["resolve_rate"] == 0.5 and report["coverage"] == 0.5
    assert report["selection_accuracy"] == 1.0 and report["pass_at_k"] == {"1": 0.5}
    preds = [json.loads(x) for x in (tmp_path / "bench/preds.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in preds] == ["micro__basket-1", "micro__windows-1"]
    assert set(preds[0]) == {"instance_id", "model_name_or_path", "model_patch"}
    assert "size + 1" in preds[1]["model_patch"]
    assert "test_repro_issue" not in preds[1]["model_patch"]
    assert set(read_records(tmp_path / "bench")) == {i.instance_id for i in instances}
    # bench_report.html beside bench_report.json: the plots, a link to each instance's report
    html = (tmp_path / "bench" / "bench_report.html").read_text()
    assert html.count("<svg ") == 5 and '<span class="v" data-resolved>1</span>' in html
    for inst in instances:
        link = f"runs/{inst.instance_id}/report.html"
        assert f'href="{link}"' in html and (tmp_path / "bench" / link).is_file()
    # outcomes.jsonl, rewritten by the resumed run with both instances, graded as the bench
    # graded them: `quorum simulate` replays it, and fixed at N = 1 gets the bench's rate
    table = tmp_path / "bench" / "outcomes.jsonl"
    rows = [json.loads(x) for x in table.read_text().splitlines()]
    assert [r["instance_id"] for r in rows] == ["micro__basket-1", "micro__windows-1"]
    assert [[c["resolved"] for c in r["candidates"]] for r in rows] == [[False], [True]]
    replay = CliRunner().invoke(app, ["simulate", "--table", str(table), "--max-n", "1"])
    assert replay.exit_code == 0, replay.output
    values = dict(line.split("=", 1) for line in replay.output.splitlines() if "=" in line)
    assert float(values["fixed_accuracy"]) == report["resolve_rate"]
    assert all(r.allocation is None for r in read_records(tmp_path / "bench").values())


@pytest.mark.docker
def test_bench_cli_takes_solves_options_and_records_them(tmp_path: Path) -> None:
    """`-n` is trajectories, as in `quorum solve`; `--slice` picks the instances; every
    record (and bench_report.json) holds the options its instance ran with."""
    instances = materialize_tasks(tmp_path / "tasks", ids=["micro__basket-1", "micro__windows-1"])
    first = instances[0].instance_id
    with OpenAIStandIn() as server:
        models = tmp_path / "models.toml"
        models.write_text(f'[models.m]\nbase_url = "{server.base_url}"\nfree = true\n'
                          'api_key_env = "QUORUM_TEST_KEY"\n')  # fmt: skip
        server.script_for("m", *(BASKET if "basket" in first else WINDOWS))
        result = CliRunner(env={"QUORUM_TEST_KEY": "sk-test"}).invoke(app, [
            "bench", "--dataset", str(tmp_path / "tasks" / "instances.jsonl"),
            "--out", str(tmp_path / "bench"), "--slice", ":1", "-n", "1", "--concurrency", "1",
            "--select-method", "votes", "--abstain-below", "0", "--budget-usd", "2",
            "--max-steps", "12", "--model", "m", "--models-file", str(models),
        ])  # fmt: skip
        assert server.pending == 0
    assert result.exit_code == 0, result.output
    records = read_records(tmp_path / "bench")
    assert list(records) == [first]
    ran = records[first].options
    assert ran["models"] == ["m"] and ran["verifier_model"] is None
    rollout = ran["solve"]["rollout"]
    assert rollout["n"] == 1 and rollout["limits"]["max_steps"] == 12
    assert ran["solve"]["selection"]["method"] == "votes"
    assert ran["solve"]["budget_usd"] == 2.0  # per instance, as in solve
    assert ran["solve"]["test_network"] == "none"
    report = json.loads((tmp_path / "bench" / "bench_report.json").read_text())
    assert report["instance_options"] == {first: ran}
    assert "instance_options" not in json.loads(result.stdout.strip().splitlines()[-1])


def test_a_verifier_with_the_ray_executor_is_refused_up_front(tmp_path: Path) -> None:
    judge = ModelConfig(name="v", base_url="http://127.0.0.1:9", api_key_env=None,
                        free=True).resolve({})  # fmt: skip
    options = BenchOptions(out=tmp_path / "bench", executor="ray")
    with pytest.raises(QuorumError, match="--verifier-model is not supported with --executor ray"):
        _executor(options, None, judge)
