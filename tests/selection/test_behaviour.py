"""The differential runner on a real repository in local sandboxes, with a scripted model:
the model's probe calls run on the original and on every distinct patch, patches that
behave alike merge, exceptions and timeouts are outcomes, nondeterministic calls are
dropped, a reply that cannot be read means no signal, and every call is in the ledger."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig, Price
from agent.rollout import RolloutConfig
from envs.candidate import Candidate
from envs.sources.local import task_from_local
from quorum.commands.solve_options import build_solve_options
from quorum.solve import SolveOptions, solve
from sandbox.local import LocalSandbox
from selection.behaviour import BehaviourTable
from selection.differential import (
    MAX_CALLS,
    ProbeFormatError,
    changed_functions,
    parse_probes,
    probe_behaviour,
)
from selection.hybrid import SelectConfig
from selection.matrix import ORIGINAL
from selection.pipeline import RunOptions, RunSelection, select_run
from selection.pool import group_by_task
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

BASE = "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    return x\n"
HEAD = "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
RIGHT_MIN = HEAD + (
    "@@ -1,4 +1,4 @@\n def clamp(x, lo, hi):\n     if x < lo:\n         return lo\n"
    "-    return x\n+    return min(x, hi)\n"
)
RIGHT_IF = HEAD + (
    "@@ -1,4 +1,6 @@\n def clamp(x, lo, hi):\n     if x < lo:\n         return lo\n"
    "+    if x > hi:\n+        return hi\n     return x\n"
)
RIGHT_TERNARY = RIGHT_MIN.replace("min(x, hi)", "hi if x > hi else x")
WRONG = RIGHT_MIN.replace("min(x, hi)", "hi")  # clamp(1, 0, 5) == 5
STALE = RIGHT_MIN.replace("-    return x\n", "-    return y\n")  # does not apply
BROKEN = RIGHT_MIN.replace("min(x, hi)", "min(x, hi")  # the module no longer imports
BROKEN_TOO = RIGHT_MIN.replace("min(x, hi)", "hi if x >")

PROBES = (
    "SETUP\n```python\nimport random\nfrom pkg.calc import clamp\n\ndef spin():\n"
    "    while True:\n        pass\n```\nCALLS\n```python\nclamp(1, 0, 5)\nclamp(9, 0, 5)\n"
    "clamp(-3, 0, 5)\nclamp('a', 0, 5)\nspin()\nrandom.random()\n```"
)
CANDIDATES = [
    ("min", RIGHT_MIN), ("if", RIGHT_IF), ("ternary", RIGHT_TERNARY),
    ("wrong1", WRONG), ("wrong2", WRONG), ("stale", STALE), ("broken", BROKEN),
    ("broken_too", BROKEN_TOO),
]  # fmt: skip
PRICE = Price(input=1.0, output=2.0)


def _repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(BASE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _repo(tmp_path_factory.mktemp("behaviour") / "repo")


def _candidates() -> list[Candidate]:
    return [Candidate(id=i, task_id="t", patch=p) for i, p in CANDIDATES]


def _config(server: OpenAIStandIn) -> ModelConfig:
    return ModelConfig(name="prober", base_url=server.base_url, api_key_env=None, prices=PRICE)


def _probe(repo: Path, replies: list[Reply], ledger: Ledger) -> tuple[BehaviourTable, list]:
    group = group_by_task(_candidates())["t"]
    with OpenAIStandIn() as server:
        server.script(*replies)

        async def go() -> BehaviourTable:
            async with LLMClient(_config(server).resolve({}), ledger) as client:
                return await probe_behaviour(
                    group, "clamp ignores hi: clamp(9, 0, 5) gives 9", client,
                    lambda: LocalSandbox(repo, warn=False), {"pkg/calc.py": BASE},
                    call_timeout_s=0.5,
                )  # fmt: skip

        table = asyncio.run(go())
        return table, [r.body for r in server.requests]


@pytest.fixture(scope="module")
def probed(repo: Path) -> tuple[BehaviourTable, list, Ledger, float]:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    start = time.monotonic()
    table, bodies = _probe(repo, [Reply.text(PROBES)], ledger)
    return table, bodies, ledger, time.monotonic() - start


def test_patches_that_behave_alike_merge_and_a_different_one_stays_apart(probed) -> None:
    table, _, _, _ = probed
    assert table.usable and table.note == ""
    assert table.clusters[0] == ["min", "if", "ternary"]  # three texts, one behaviour
    assert ["wrong1", "wrong2"] in table.clusters and ["stale"] in table.clusters
    assert len(table.clusters) == 5
    assert table.outputs["min"] == table.outputs["if"] == table.outputs["ternary"]
    assert table.outputs["min"][:3] == ["1", "5", "0"]
    assert table.outputs["wrong1"][:3] == ["5", "5", "0"]
    assert table.outputs[ORIGINAL][:3] == ["1", "9", "0"]
    assert table.distinguishing("min", "wrong1") == [0]
    assert table.distinguishing("min", ORIGINAL) == [1]
    assert table.votes()["if"] == pytest.approx(3 / 8)


def test_failed_runs_stay_alone(probed) -> None:
    """A patch that does not apply, and two that break the import in different ways: the
    same failure is no shared behaviour."""
    table, _, _, _ = probed
    assert "does not apply" in table.failed["stale"] and "stale" not in table.outputs
    assert table.distinguishing("stale", "min") == []
    assert ["broken"] in table.clusters and ["broken_too"] in table.clusters
    assert table.failed["broken"].startswith("setup failed: raise SyntaxError")


def test_an_exception_is_an_outcome_and_a_hanging_call_times_out(probed) -> None:
    table, _, _, seconds = probed
    assert table.calls[3] == "clamp('a', 0, 5)"
    assert table.outputs["min"][3].startswith("raise TypeError: '<' not supported")
    assert table.calls[4] == "spin()" and table.outputs["min"][4] == "timeout"
    assert all(out[4] == "timeout" for out in table.outputs.values())
    assert seconds < 60  # five processes with a spinning call each, 0.5 s timer


def test_a_nondeterministic_call_is_dropped(probed) -> None:
    table, _, _, _ = probed
    assert table.dropped_calls == ["random.random()"]
    assert "random.random()" not in table.calls
    assert all(len(out) == len(table.calls) == 5 for out in table.outputs.values())


def test_the_model_sees_the_changed_function_and_is_charged(probed) -> None:
    table, bodies, ledger, _ = probed
    [body] = bodies
    prompt = body["messages"][1]["content"]
    assert "clamp ignores hi" in prompt and "def clamp(x, lo, hi):" in prompt
    assert "module='pkg.calc'" in prompt and "min(x, hi)" not in prompt  # not the patches
    spend = ledger.report().by_caller["behaviour_probe"]
    assert spend.calls == 1 and spend.usd > 0
    assert table.cost_usd == pytest.approx(spend.usd)
    assert table.tokens == spend.total_tokens > 0


def test_a_garbage_reply_is_retried_once_then_gives_no_signal(repo: Path) -> None:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    bad = "CALLS\n```python\nclamp(1, 0,\n```"  # not an expression
    table, bodies = _probe(repo, [Reply.text("I would test clamp."), Reply.text(bad)], ledger)
    assert not table.usable and table.clusters == [] and table.calls == []
    assert "could not be read" in table.note and "not a single Python expression" in table.note
    assert "no CALLS block" in bodies[1]["messages"][-1]["content"]  # the retry names why
    assert table.replies == ["I would test clamp.", bad]  # kept, to see what it wrote
    assert ledger.report().by_caller["behaviour_probe"].calls == 2


def test_a_reply_is_read_strictly() -> None:
    many = "CALLS\n```python\n" + "".join(f"f({i})\n" for i in range(MAX_CALLS + 2)) + "```"
    plan = parse_probes(many)  # the first MAX_CALLS are used, the rest accounted for
    assert plan.calls == [f"f({i})" for i in range(MAX_CALLS)]
    assert plan.unused == [f"beyond the first {MAX_CALLS}: f({MAX_CALLS})",
                           f"beyond the first {MAX_CALLS}: f({MAX_CALLS + 1})"]  # fmt: skip
    mixed = parse_probes("CALLS\n```python\nf(1)\nx = 2\nf('" + "x" * 300 + "')\n```")
    assert mixed.calls == ["f(1)"]
    assert mixed.unused[0] == "not a single Python expression: x = 2"
    assert mixed.unused[1].startswith("over 300 characters")
    with pytest.raises(ProbeFormatError, match="has no usable call"):
        parse_probes("CALLS\n```python\nx = 2\n```")
    with pytest.raises(ProbeFormatError, match="SETUP block is not valid Python"):
        parse_probes("SETUP\n```python\nimport (\n```\nCALLS\n```python\nf(1)\n```")
    plan = parse_probes("CALLS\n```python\n# a comment\nf(1)\n\ng(x=2)\n```")
    assert plan.calls == ["f(1)", "g(x=2)"] and plan.setup == "" and plan.unused == []
    # what the embedded model wrote: the objects its calls use, among the calls
    basket = parse_probes("SETUP\n```python\nfrom shop import Basket\n```\nCALLS\n```python\n"
                          "b = Basket()\nb.add('apple')\nb.count()   # 1, expected 0\n"
                          "c = Basket()\n```")  # fmt: skip
    assert basket.setup == "from shop import Basket\nb = Basket()"
    assert basket.calls == ["b.add('apple')", "b.count()   # 1, expected 0"]
    assert basket.unused == ["not a single Python expression: c = Basket()"]
    # no CALLS heading: the last code block, read the same way
    bare = parse_probes("Here you go:\n```python\nfrom m import f\nf(1)\nf(-1)\n```")
    assert bare.setup == "from m import f" and bare.calls == ["f(1)", "f(-1)"]


def test_changed_functions_names_the_innermost_function() -> None:
    files = {"pkg/calc.py": "class A:\n    def f(self):\n        return 1\n\nX = 2\n"}
    patch = HEAD + "@@ -3,3 +3,3 @@\n-        return 1\n+        return 2\n \n X = 2\n"
    text = changed_functions([Candidate(id="a", task_id="t", patch=patch)], files)
    assert "name='A.f'" in text and "def f(self):" in text and "X = 2" not in text


def _select(repo: Path, behaviour: bool, replies: list[Reply]) -> tuple[RunSelection, Ledger]:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    options = RunOptions(
        selection=SelectConfig(method="cascade", threshold=0.0), regression_tests=False,
        behaviour=behaviour, probe_timeout_s=0.5,
    )  # fmt: skip
    with OpenAIStandIn() as server:
        server.script(*replies)

        async def go() -> RunSelection:
            async with LLMClient(_config(server).resolve({}), ledger) as client:
                return await select_run(
                    "t", _candidates(), [], lambda: LocalSandbox(repo, warn=False),
                    "clamp ignores hi", options, prober=client,
                )  # fmt: skip

        return asyncio.run(go()), ledger


def test_votes_count_behaviours_not_texts(repo: Path) -> None:
    """Patch votes favour the two identical wrong patches; behaviour votes the three
    different right ones, which do the same."""
    by_text, _ = _select(repo, False, [])
    assert by_text.selection.chosen in ("wrong1", "wrong2") and by_text.behaviour is None
    by_behaviour, ledger = _select(repo, True, [Reply.text(PROBES)])
    selection = by_behaviour.selection
    assert selection.chosen in ("min", "if", "ternary")
    assert "behaviour_votes" in selection.evidence["available_signals"]
    assert "patch_votes" not in selection.evidence["available_signals"]
    assert selection.signals["behaviour_votes"]["min"] == pytest.approx(3 / 8)
    assert by_behaviour.behaviour is not None
    evidence = selection.evidence["behaviour"]
    assert evidence["clusters"][0] == ["min", "if", "ternary"]
    assert evidence["cost_usd"] == pytest.approx(ledger.report().by_caller["behaviour_probe"].usd)
    assert "behaves as it does on the probe calls" in selection.rationale


def test_no_signal_leaves_the_patch_votes_in_place(repo: Path) -> None:
    run, _ = _select(repo, True, [Reply.text("no idea"), Reply.text("still no idea")])
    assert run.behaviour is None and run.selection.chosen in ("wrong1", "wrong2")
    assert "patch_votes" in run.selection.evidence["available_signals"]
    assert "could not be read" in run.selection.evidence["behaviour"]["note"]


ADD_PROBES = (
    "SETUP\n```python\nfrom pkg.calc import add\n```\nCALLS\n```python\nadd(1, 2)\n"
    "add(2, 2)\nadd(1.5, 2)\n```"
)


def test_solve_probes_with_the_first_model_and_records_the_table(tmp_path: Path) -> None:
    """`quorum solve --probe-behaviour`'s path: the first model writes the probes after
    its trajectory, a + b and b + a behave as one fix on numbers, a * b apart;
    selection.json has the table and cost.json the probe's call."""
    assert build_solve_options(probe_behaviour=True).probe_behaviour  # the flag's way in
    assert not build_solve_options().probe_behaviour  # off by default
    task = task_from_local(make_repo(tmp_path / "repo"), issue="add(1, 2) returns -1")
    with OpenAIStandIn() as server:
        probe = Reply.text(ADD_PROBES)
        server.script_for("m0", *solver_script("add(1, 2) == 3", "a + b"), probe)
        server.script_for("m1", *solver_script("add(2, 2) == 4", "b + a"))
        server.script_for("m2", *solver_script("add(2, 2) == 4", "a * b"))
        endpoints = [ModelConfig(name=m, base_url=server.base_url, api_key_env=None,
                                 free=True).resolve({}) for m in ("m0", "m1", "m2")]  # fmt: skip
        options = SolveOptions(rollout=RolloutConfig(n=3, solver="agent"), sandbox="local",
                               regression_tests=False, probe_behaviour=True)  # fmt: skip
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run"))
    run = tmp_path / "run"
    table = BehaviourTable.model_validate(
        json.loads((run / "selection.json").read_text())["evidence"]["behaviour"]
    )
    assert table.calls == ["add(1, 2)", "add(2, 2)", "add(1.5, 2)"]
    assert table.clusters == [["r0-t0", "r0-t1"], ["r0-t2"]]
    assert table.outputs["r0-t0"] == ["3", "4", "3.5"] and table.outputs["r0-t2"][0] == "2"
    spent = json.loads((run / "cost.json").read_text())["by_caller"]
    assert spent["behaviour_probe"]["calls"] == 1
    assert outcome.selection.chosen in ("r0-t0", "r0-t1")
