"""The differential runner (S*, CodeMonkeys): the model reads the issue and the functions
the candidates change and writes probe calls; every normalised-patch cluster's
representative, and the original code twice, runs them all in one python process in a
sandbox of its own; the outcomes are a behaviour signature (selection/behaviour.py).

The model's reply is read strictly (a SETUP and a CALLS block, a bounded count of
bounded expressions); one that cannot be read is sent back once with the reason, and a
second failure, a model error or a refused budget means no behaviour signal, never a
crash. Every call goes through the run's client and ledger (caller "behaviour_probe").

Inside the sandbox each call runs under its own SIGALRM timer; an outcome is `repr(value)`
(bounded, object addresses masked), `raise ExcType: message` or `timeout`, and the runner
prints one JSON document behind a marker (what the calls print goes to /dev/null). Calls
whose outcome differs between the two runs of the original are nondeterministic and
dropped; PYTHONHASHSEED is fixed so set and dict orders agree across processes."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import BudgetExhausted, LLMClient, ModelError
from envs.candidate import Candidate
from envs.modules import module_of
from envs.patch import parse_diff
from sandbox.errors import PatchApplyError, QuorumError
from sandbox.protocol import Sandbox, SandboxFactory
from selection.behaviour import BehaviourTable, broken_run, merge_by_outputs
from selection.matrix import ORIGINAL
from selection.pool import Group

MAX_CALLS = 12
MAX_CALL_CHARS = 300
MAX_SETUP_CHARS = 2000
OUTCOME_CHARS = 500  # repr or exception message kept per outcome
CONTEXT_CHARS = 8000  # base source of the changed functions shown to the model
FUNCTION_CHARS = 2500
MAX_FUNCTIONS = 8
REPLY_CHARS = 4000  # of each reply kept in the table, to see what the model wrote
PROBE_MAX_TOKENS = 800  # a SETUP and MAX_CALLS short calls fit; a small model rambles on

SYSTEM = (
    "You write probe calls that show what code does. You see a GitHub issue and the "
    "functions that candidate fixes change. Write Python expressions that call those "
    "functions on the inputs the issue names and on nearby edge cases, so that a correct "
    "fix and a wrong one give different results. Each expression is evaluated on its own "
    "and its value (repr) or exception is recorded: do not assert, print or compare with an "
    "expected value. Reply exactly:\nSETUP\n```python\n<the imports the calls need>\n```\n"
    f"CALLS\n```python\n<one expression a line, at most {MAX_CALLS}, each under "
    f"{MAX_CALL_CHARS} characters>\n```"
)
_SETUP = re.compile(r"SETUP\s*```(?:python|py)?[^\n]*\n(.*?)```", re.S | re.I)
_CALLS = re.compile(r"CALLS\s*```(?:python|py)?[^\n]*\n(.*?)```", re.S | re.I)
_CODE = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)```", re.S | re.I)


class ProbeFormatError(ValueError):
    """The model's reply is not a SETUP block and a CALLS block of valid expressions."""


class ProbePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    setup: str
    calls: list[str]
    unused: list[str] = Field(
        default_factory=list, description="lines of the CALLS block left out, each with why")


def parse_probes(text: str) -> ProbePlan:
    """The plan in a reply; ProbeFormatError saying what is wrong (sent back to the model).

    A small model bends the format: it writes too many calls, puts the objects its calls
    use (`b = Basket()`) among them, or leaves out the CALLS heading. So: a one-line
    statement in the CALLS block joins the setup (in order, before every call), a reply
    without a CALLS block is read from its last ```python block, and the first MAX_CALLS
    expressions are the calls; every line not run is accounted for in `unused`."""
    text = text or ""
    calls_block = _CALLS.search(text)
    setup_block = _SETUP.search(text)
    if calls_block is not None:
        body = calls_block.group(1)
    else:
        blocks = [b for b in _CODE.findall(text) if not setup_block or b != setup_block.group(1)]
        if not blocks:
            raise ProbeFormatError("no CALLS block: write CALLS then a ```python block")
        body = blocks[-1]
    setup = setup_block.group(1).strip() if setup_block else ""
    lines = [ln.strip() for ln in body.splitlines()]
    calls: list[str] = []
    unused: list[str] = []
    moved: list[str] = []
    for line in (ln for ln in lines if ln and not ln.startswith("#")):
        if len(line) > MAX_CALL_CHARS:
            unused.append(f"over {MAX_CALL_CHARS} characters: {line[:80]}...")
        elif _parses(line, "eval"):
            if len(calls) == MAX_CALLS:
                unused.append(f"beyond the first {MAX_CALLS}: {line[:80]}")
                continue
            printed = _printed(line)
            if printed is not None:  # print(x) is always None: its argument is the probe
                unused.append(f"read as its argument: {line[:80]}")
            calls.append(printed or line)
        elif _parses(line, "exec") and not calls:
            moved.append(line)  # setup written among the calls, before any of them
        else:
            unused.append(f"not a single Python expression: {line[:80]}")
    setup = "\n".join(x for x in (setup, *moved) if x)
    if len(setup) > MAX_SETUP_CHARS:
        raise ProbeFormatError(f"the SETUP block is over {MAX_SETUP_CHARS} characters")
    try:
        ast.parse(setup)
    except SyntaxError as exc:
        raise ProbeFormatError(f"the SETUP block is not valid Python: {exc.msg}") from exc
    if not calls:
        why = f" ({unused[0]})" if unused else ""
        raise ProbeFormatError(f"the CALLS block has no usable call{why}")
    return ProbePlan(setup=setup, calls=calls, unused=unused)


def _printed(line: str) -> str | None:
    """`x` for a call `print(x)` (one argument, no keywords), else None."""
    node = ast.parse(line, mode="eval").body
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "print" and len(node.args) == 1 and not node.keywords
            and not isinstance(node.args[0], ast.Starred)):  # fmt: skip
        return ast.unparse(node.args[0])
    return None


def _parses(line: str, mode: str) -> bool:
    """`line` is valid Python as an expression (mode "eval") or statements ("exec")."""
    try:
        ast.parse(line, mode=mode)
    except SyntaxError:
        return False
    return True


def _module(path: str) -> str:
    return module_of(path) or path


def _changed_old_lines(body: list[str], start: int) -> set[int]:
    """Base line numbers a hunk removes, or inserts next to."""
    out: set[int] = set()
    line = max(start, 1)
    for text in body:
        sign = text[:1]
        if sign == "-":
            out.add(line)
        elif sign == "+":
            out.update((max(line - 1, 1), line))
        if sign in (" ", "-"):
            line += 1
    return out


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of every function and method, outer before inner."""
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((prefix + child.name, child))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(tree, "")
    return out


def changed_functions(candidates: Sequence[Candidate], files: Mapping[str, str]) -> str:
    """The base source of the functions the candidates' patches change (innermost function
    around each changed line), bounded; modules changed outside any function are named."""
    wanted: dict[tuple[str, str], str] = {}
    elsewhere: dict[str, None] = {}
    trees: dict[str, ast.Module | None] = {}
    for cand in candidates:
        for diff in parse_diff(cand.patch):
            text = files.get(diff.source_path or diff.path) or files.get(diff.path)
            if not diff.path.endswith(".py") or text is None:
                elsewhere.setdefault(diff.path, None)
                continue
            if diff.path not in trees:
                try:
                    trees[diff.path] = ast.parse(text)
                except SyntaxError:
                    trees[diff.path] = None
            tree = trees[diff.path]
            funcs = _functions(tree) if tree is not None else []
            for start, body in diff.hunks:
                for line in sorted(_changed_old_lines(body, start)):
                    inside = [(n, f) for n, f in funcs
                              if f.lineno <= line <= (f.end_lineno or f.lineno)]  # fmt: skip
                    if not inside:
                        elsewhere.setdefault(diff.path, None)
                        continue
                    name, node = inside[-1]  # innermost
                    source = ast.get_source_segment(text, node, padded=True) or ""
                    wanted.setdefault((diff.path, name), source)
    parts: list[str] = []
    used = 0
    for (path, name), source in list(wanted.items())[:MAX_FUNCTIONS]:
        if len(source) > FUNCTION_CHARS:
            source = source[:FUNCTION_CHARS] + "\n    ... (cut)"
        if used + len(source) > CONTEXT_CHARS:
            parts.append(f"<function module={_module(path)!r} name={name!r}> (source left out)")
            continue
        used += len(source)
        parts.append(f"<function module={_module(path)!r} name={name!r}>\n{source}\n</function>")
    for path in elsewhere:
        if not any(p == path for p, _ in wanted):
            parts.append(f"<changed module={_module(path)!r} path={path!r}> (outside a function)")
    return "\n\n".join(parts)


class _Spend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_usd: float = 0
    tokens: int = 0
    replies: list[str] = Field(default_factory=list)


async def write_probes(
    client: LLMClient, issue: str, context: str, spend: _Spend
) -> tuple[ProbePlan | None, str]:
    """The model's plan, or None and why; one retry that names the reply's fault."""
    messages: list[dict[str, str]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"<issue>\n{issue.strip()}\n</issue>\n\n{context}"},
    ]
    error = ""
    for _attempt in range(2):
        try:
            done = await client.complete(
                messages, caller="behaviour_probe", trajectory_id="behaviour-probe",
                temperature=0.0, max_tokens=PROBE_MAX_TOKENS,
            )  # fmt: skip
        except (ModelError, BudgetExhausted) as exc:
            return None, f"the probe model failed: {str(exc).splitlines()[0]}"
        spend.cost_usd += done.cost_usd
        spend.tokens += done.usage.total_tokens
        text = done.text or ""
        spend.replies.append(text[:REPLY_CHARS])
        try:
            return parse_probes(text), ""
        except ProbeFormatError as exc:
            error = str(exc)
        messages += [
            {"role": "assistant", "content": text},
            {"role": "user", "content": f"That reply cannot be used: {error}. Reply again, "
             "exactly in the format asked."},
        ]  # fmt: skip
    return None, f"the probe model's reply could not be read twice: {error}"


# Runs inside the sandbox (any Python 3): argv[1] is the JSON spec, stdout gets the marker
# and one JSON document {"setup_error": str | null, "outcomes": [str, ...]}.
RUNNER = r"""
import json, os, re, signal, sys
spec = json.load(open(sys.argv[1]))
LIMIT, TIMEOUT = spec["limit"], spec["timeout"]
ADDR = re.compile(r" at 0x[0-9a-fA-F]+")
class _Timeout(BaseException):
    pass
def _alarm(signum, frame):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def cut(text):
    text = ADDR.sub(" at 0x...", text)
    return text if len(text) <= LIMIT else text[:LIMIT] + "...(cut)"
def timed(fn):
    try:
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
        try:
            return "ok", fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        return "timeout", None
    except BaseException as exc:
        return "raise", exc
def raised(exc):
    try:
        message = str(exc)
    except BaseException:
        message = "?"
    return cut("raise %s: %s" % (type(exc).__name__, message))
def outcome(kind, value):
    if kind == "timeout":
        return "timeout"
    if kind == "raise":
        return raised(value)
    kind, text = timed(lambda: repr(value))
    if kind == "ok":
        return cut(text)
    return "timeout" if kind == "timeout" else "repr " + raised(text)
sink = open(os.devnull, "w")
real = sys.stdout
sys.stdout = sys.stderr = sink
ns = {"__name__": "__probe__"}
doc = {"setup_error": None, "outcomes": []}
kind, value = timed(lambda: exec(compile(spec["setup"], "<setup>", "exec"), ns))
if kind != "ok":
    doc["setup_error"] = outcome(kind, value)
else:
    for call in spec["calls"]:
        doc["outcomes"].append(outcome(*timed(lambda: eval(compile(call, "<call>", "eval"), ns))))
real.write("\n" + spec["mark"] + json.dumps(doc) + "\n")
real.flush()
os._exit(0)
"""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[list[str]] = []
    failed: str = ""


def _run_once(box: Sandbox, plan: ProbePlan, timeout_s: float) -> list[str] | str:
    """One batched process: the outcomes, or why there are none."""
    token = uuid.uuid4().hex[:12]
    script, spec_file = f".quorum-probe-{token}.py", f".quorum-probe-{token}.json"
    mark = f"@@{token}@@"
    spec = {"setup": plan.setup, "calls": plan.calls, "mark": mark, "timeout": timeout_s,
            "limit": OUTCOME_CHARS}  # fmt: skip
    box.write_file(script, RUNNER)
    box.write_file(spec_file, json.dumps(spec))
    result = box.exec(
        f"python {script} {spec_file}; rc=$?; rm -f {script} {spec_file}; exit $rc",
        timeout=timeout_s * (2 * len(plan.calls) + 1) + 30,  # a timer for each call and its repr
        env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if result.timed_out:
        return "the probe process did not finish (a call ignored its timeout)"
    line = next((ln for ln in reversed(result.stdout.splitlines()) if ln.startswith(mark)), None)
    if line is None:
        return f"the probe process printed no result (exit {result.exit_code})"
    doc = json.loads(line[len(mark) :])
    if doc.get("setup_error"):
        return f"setup failed: {doc['setup_error']}"
    outcomes = [str(o) for o in doc.get("outcomes", [])]
    if len(outcomes) != len(plan.calls):
        return "the probe process gave a wrong number of outcomes"
    if broken_run(outcomes):
        return "the code could not be loaded on any call"
    return outcomes


def _run_row(start: SandboxFactory, patch: str, plan: ProbePlan, timeout_s: float,
             runs: int) -> _Row:  # fmt: skip
    try:
        with start() as box:
            if patch:
                try:
                    box.apply_patch(patch)
                except PatchApplyError as exc:
                    return _Row(failed=str(exc)[:400])
            row = _Row()
            for _ in range(runs):
                got = _run_once(box, plan, timeout_s)
                if isinstance(got, str):
                    return _Row(failed=got)
                row.runs.append(got)
            return row
    except (QuorumError, ValueError) as exc:  # a sandbox that would not start, bad JSON
        return _Row(failed=f"the probe run failed: {str(exc).splitlines()[0][:300]}")


async def probe_behaviour(
    group: Group,
    issue: str,
    client: LLMClient,
    start_sandbox: SandboxFactory,
    files: Mapping[str, str],
    *,
    call_timeout_s: float = 10,
    concurrency: int = 4,
) -> BehaviourTable:
    """The behaviour table of a group; without usable calls it carries `note` and no
    clusters (no signal)."""
    started = time.monotonic()
    reps = group.representatives()
    spend = _Spend()
    plan, note = await write_probes(client, issue, changed_functions(reps, files), spend)

    def table(**kw: Any) -> BehaviourTable:
        unused = plan.unused if plan is not None else []
        return BehaviourTable(cost_usd=spend.cost_usd, tokens=spend.tokens, unused_calls=unused,
                              replies=spend.replies, seconds=time.monotonic() - started,
                              **kw)  # fmt: skip

    if plan is None:
        return table(setup="", calls=[], note=note)
    gate = asyncio.Semaphore(concurrency)

    async def row(patch: str, runs: int) -> _Row:
        async with gate:
            return await asyncio.to_thread(_run_row, start_sandbox, patch, plan,
                                           call_timeout_s, runs)  # fmt: skip

    rows = await asyncio.gather(row("", 2), *(row(c.patch, 1) for c in reps))
    by_id = dict(zip([ORIGINAL, *(c.id for c in reps)], rows, strict=True))
    keep = list(range(len(plan.calls)))
    original = by_id[ORIGINAL]
    if not original.failed:  # (an original that fails to run cannot tell; all calls stay)
        first, second = original.runs
        keep = [i for i in keep if first[i] == second[i]]
    outputs = {cid: [r.runs[0][i] for i in keep] for cid, r in by_id.items() if not r.failed}
    failed = {cid: r.failed for cid, r in by_id.items() if r.failed}
    calls = [plan.calls[i] for i in keep]
    dropped = [c for i, c in enumerate(plan.calls) if i not in keep]
    if not calls:
        return table(setup=plan.setup, calls=[], dropped_calls=dropped, failed=failed,
                     note="every probe call was nondeterministic on the original code")  # fmt: skip
    reps_failed = {cid: why for cid, why in failed.items() if cid != ORIGINAL}
    if len(reps_failed) == len(reps):
        return table(setup=plan.setup, calls=calls, outputs=outputs, failed=failed,
                     dropped_calls=dropped, note="no candidate's probe run succeeded")  # fmt: skip
    done = table(
        setup=plan.setup, calls=calls, outputs=outputs, failed=failed, dropped_calls=dropped,
        clusters=merge_by_outputs(group, outputs, reps_failed),
    )  # fmt: skip
    if not done.informative:
        done.note = ("the probe calls gave the same outcomes on every patch and on the "
                     "original code: they do not reach the change, so they are no evidence")
    return done
