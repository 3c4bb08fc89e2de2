"""Selection for one task from whatever evidence exists: the pool, optionally the
reproduction-test matrix, the regression matrix, a verifier and the selection agent's
verdict. `select_run` is the one path from candidates to a selection: with a sandbox
factory it validates the test pool, builds the pass matrix, runs the related repository
tests and reads the base files; without one it reuses matrices built earlier. Used by
`quorum solve` (with everything), `quorum select` (offline, often with patches only) and
the scaling figures (quorum.scaling, over recorded matrices)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import LLMClient
from envs.candidate import Candidate, ReproTest
from sandbox.errors import QuorumError
from sandbox.protocol import SandboxFactory
from selection.agent import AgentVerdict
from selection.behaviour import BehaviourTable
from selection.differential import probe_behaviour
from selection.hybrid import SelectConfig, rank, select
from selection.matrix import PassMatrix, build_matrix
from selection.pool import Group, base_texts, changed_sources, group_by_task
from selection.pooled import score_pooled
from selection.regression import related_tests_in, run_regressions
from selection.result import Selection
from selection.signals import collect_signals
from selection.testpool import TestPool, validate_pool
from selection.tournament import TournamentResult, run_tournament
from selection.verifier import Verifier, VerifierItem

AgentRunner = Callable[[Sequence[Candidate]], Awaitable[AgentVerdict]]


async def verify_group(
    group: Group,
    verifier: Verifier,
    issue: str,
    trajectories: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Scores for every candidate, computed once per normalised-patch cluster (equal
    patches get equal judgements; the representative's trajectory stands for them)."""
    trajectories = trajectories or {}
    clusters = group.clusters()
    reps = {ids[0]: ids for ids in clusters.values()}
    by_id = {c.id: c for c in group.candidates}
    items = [
        VerifierItem(candidate_id=rep, issue=issue, patch=by_id[rep].patch,
                     trajectory=trajectories.get(rep, ""))
        for rep in reps
    ]  # fmt: skip
    scored = await verifier.score(items)
    return {cid: scored[rep] for rep, ids in reps.items() if rep in scored for cid in ids}


async def select_group(
    group: Group,
    *,
    config: SelectConfig | None = None,
    repro: PassMatrix | None = None,
    regress: PassMatrix | None = None,
    verifier: Verifier | None = None,
    issue: str = "",
    trajectories: Mapping[str, str] | None = None,
    agent_choice: str | None = None,
    agent_reason: str = "",
    agent: AgentRunner | None = None,
    agent_top: int = 3,
    behaviour: BehaviourTable | None = None,
    tournament: TournamentResult | None = None,
) -> Selection:
    """`agent`, when given, is shown the top `agent_top` distinct patches by the other
    signals and its choice joins them (see selection.agent)."""
    config = config or SelectConfig()
    scores = await verify_group(group, verifier, issue, trajectories) if verifier else None
    judged = tournament.candidate_scores() if tournament is not None else None
    signals = collect_signals(group, repro, regress, scores, agent_choice, agent_reason,
                              tournament=judged, behaviour=behaviour)  # fmt: skip
    verdict = None
    if agent is not None and len(group.clusters()) > 1:
        by_id = {c.id: c for c in group.candidates}
        keys = group.patch_keys
        top: list[Candidate] = []
        for cid in rank(signals, config):  # one per normalised patch, best first
            if all(keys[cid] != keys[c.id] for c in top):
                top.append(by_id[cid])
        verdict = await agent(top[:agent_top])
        signals = signals.model_copy(
            update={"agent_choice": verdict.choice, "agent_reason": verdict.reason}
        )
    selection = select(group.task_id, signals, config)
    if verdict is not None:
        selection.evidence["agent_tests"] = {t.id: t.content for t in verdict.tests}
        selection.evidence["agent_results"] = verdict.results
    selection.evidence["patch_clusters"] = list(group.clusters().values())
    if verifier:
        selection.evidence["verifier"] = verifier.name
    return selection


class RunOptions(BaseModel):
    """What `select_run` runs, beside the selector's own configuration."""

    model_config = ConfigDict(extra="forbid")

    selection: SelectConfig = Field(default_factory=SelectConfig)
    test_timeout_s: float = Field(120, gt=0)
    concurrency: int = Field(4, gt=0, description="test containers at once")
    regression_tests: bool = Field(True, description="run the repo's tests near the change")
    regression_timeout_s: float | None = Field(
        None, gt=0, description="per regression run; default five times test_timeout_s")
    behaviour: bool = Field(
        False, description="the prober writes probe calls; every distinct patch runs them "
        "and behaviour clusters replace patch clusters in the votes (selection.differential)")
    probe_timeout_s: float = Field(10, gt=0, description="per probe call")
    tournament: bool = Field(
        False, description="the prober judges the behaviour clusters pairwise on the calls "
        "where they differ (selection.tournament); needs the behaviour signal")
    tournament_pairs: int = Field(7, ge=1, description="at most this many matches")


class Evidence(BaseModel):
    """Matrices built before (a run directory's, a regression record's): reused as they are."""

    model_config = ConfigDict(extra="forbid")

    repro: PassMatrix | None = None
    regress: PassMatrix | None = None
    base_files: dict[str, str] | None = None
    behaviour: BehaviourTable | None = Field(
        None, description="a recorded probe of these candidates (or more): used, cut to them")


class RunSelection(BaseModel):
    """The selection and everything built on the way to it. `scores` (candidate id ->
    name -> value: pooled tests passed, every signal, the method's combined score) is what
    a caller persists on its candidates; the inputs themselves are left as they were."""

    model_config = ConfigDict(extra="forbid")

    selection: Selection
    group: Group | None
    pool: TestPool | None = None
    repro: PassMatrix | None = None
    regress: PassMatrix | None = None
    base_files: dict[str, str] = Field(default_factory=dict)
    scores: dict[str, dict[str, float]] = Field(default_factory=dict)
    behaviour: BehaviourTable | None = Field(
        None, description="the probe calls' outcomes, when they gave a behaviour signal")


async def select_run(
    task_id: str,
    candidates: Sequence[Candidate],
    tests: Sequence[ReproTest],
    start_sandbox: SandboxFactory | None,
    issue: str,
    options: RunOptions,
    *,
    known: Evidence | None = None,
    vote_only_sources: Iterable[str] = (),
    verifier: Verifier | None = None,
    trajectories: Mapping[str, str] | None = None,
    agent: AgentRunner | None = None,
    prober: LLMClient | None = None,
    say: Callable[[str], None] | None = None,
    tests_run: Callable[[int, int], None] | None = None,
) -> RunSelection:
    """`candidates` are one task's (test writers among them are left out of the choice);
    `tests` the generated tests to validate and run (with a sandbox factory). What
    `known` holds is used instead of being built. `tests_run(done, total)` hears the pass
    matrix's progress (a progress bar's). `prober` writes the probe calls of the
    behaviour signal (with `options.behaviour`, a sandbox factory and two distinct
    patches or more)."""
    say = say or (lambda _m: None)
    known = known or Evidence()
    solvers = [c for c in candidates if c.solver != "test_writer"]
    pool, repro, regress = None, known.repro, known.regress
    if start_sandbox is not None and repro is None:
        say("validating the generated tests on the original code (twice: flaky ones out)")
        pool = await validate_pool(tests, start_sandbox, test_timeout_s=options.test_timeout_s)
        say("running every candidate against every generated test")
        repro = await build_matrix(
            solvers, kept_tests(tests, pool), start_sandbox,
            concurrency=options.concurrency, test_timeout_s=options.test_timeout_s,
            progress=tests_run,
        )  # fmt: skip
    if start_sandbox is not None and regress is None and options.regression_tests and solvers:
        regress = await _regressions(solvers, start_sandbox, options, say)
    files = known.base_files
    if files is None:
        files = base_files(solvers, start_sandbox) if start_sandbox is not None else {}
    groups = group_by_task(solvers, {task_id: files}, vote_only_sources=vote_only_sources)
    group = groups.get(task_id)
    probed = None
    if known.behaviour is not None and group is not None and len(group.clusters()) > 1:
        probed = known.behaviour.restricted({c.id for c in group.choosable})
    elif (options.behaviour and prober is not None and start_sandbox is not None
            and group is not None and len(group.clusters()) > 1):  # fmt: skip
        say(f"probing the behaviour of {len(group.clusters())} distinct patch(es)")
        probed = await probe_behaviour(
            group, issue, prober, start_sandbox, files,
            call_timeout_s=options.probe_timeout_s, concurrency=options.concurrency,
        )  # fmt: skip
    behaviour = probed if probed is not None and probed.usable else None
    judged = None
    if options.tournament and behaviour is not None and prober is not None:
        judged = await _tournament(behaviour, issue, prober, options, say)
    if group is None:
        selection = Selection(task_id=task_id, method=options.selection.method,
                              rationale="No trajectory produced a patch; nothing to choose.")
    else:
        if verifier is not None:
            say(f"scoring {len(group.clusters())} unique patch(es) with the verifier")
        selection = await select_group(
            group, config=options.selection, repro=repro, regress=regress,
            verifier=verifier, issue=issue, trajectories=trajectories, agent=agent,
            behaviour=behaviour, tournament=judged,
        )  # fmt: skip
    if probed is not None:  # its outcomes, or why it gave no signal, and its cost
        selection.evidence["behaviour"] = probed.model_dump()
    if judged is not None:  # every match: the calls shown, both outputs, both answers
        selection.evidence["tournament"] = judged.model_dump()
    if pool is not None:
        selection.evidence["test_pool"] = pool.model_dump(exclude={"valid"})
    return RunSelection(
        selection=selection, group=group, pool=pool, repro=repro, regress=regress,
        base_files=dict(files), scores=_scores(solvers, repro, selection),
        behaviour=behaviour,
    )  # fmt: skip


async def _tournament(
    table: BehaviourTable, issue: str, judge: LLMClient, options: RunOptions,
    say: Callable[[str], None],
) -> TournamentResult | None:  # fmt: skip
    """The behaviour clusters whose representative ran, judged pairwise; None when fewer
    than two behaviours are there to tell apart."""
    entrants = [ids for ids in table.clusters
                if ids and ids[0] in table.outputs and ids[0] not in table.failed]  # fmt: skip
    if len(entrants) < 2:
        return None
    say(f"judging {len(entrants)} behaviours pairwise on the calls where they differ")
    return await run_tournament(judge, issue, table.setup, table.calls, table.outputs,
                                entrants, max_pairs=options.tournament_pairs)  # fmt: skip


def kept_tests(tests: Sequence[ReproTest], pool: TestPool) -> list[ReproTest]:
    """The tests less flaky ones and duplicates; tests passing on the original stay in the
    matrix (the report shows them), `valid_tests()` leaves them out of the evidence."""
    out = set(pool.flaky) | set(pool.duplicates)
    return [t for t in tests if t.id not in out]


def base_files(solvers: Sequence[Candidate], start_sandbox: SandboxFactory) -> dict[str, str]:
    """Base text of the changed Python files: patch keys then compare whole files, so two
    patches making the same change in different places never merge."""
    try:
        with start_sandbox() as box:

            def read(path: str) -> str | None:
                try:
                    return box.read_file(path).decode()
                except (QuorumError, UnicodeDecodeError):
                    return None

            return base_texts(solvers, read)
    except QuorumError:
        return {}  # diff-level keys: never lose a finished run over an optional refinement


async def _regressions(
    solvers: Sequence[Candidate], start_sandbox: SandboxFactory, options: RunOptions,
    say: Callable[[str], None],
) -> PassMatrix | None:  # fmt: skip
    try:
        with start_sandbox() as box:
            related = related_tests_in(box, changed_sources(solvers))
        if not related:
            return None
        say(f"running {len(related)} related repository test file(s) on the base and each "
            "patch")
        return await run_regressions(
            solvers, related, start_sandbox, concurrency=options.concurrency,
            timeout_s=options.regression_timeout_s or options.test_timeout_s * 5,
        )  # fmt: skip
    except QuorumError as exc:  # an optional signal: never lose the selection over it
        say(f"the repository's tests could not be run ({str(exc).splitlines()[0]}); "
            "selecting without them")
        return None


def _scores(
    solvers: Sequence[Candidate], repro: PassMatrix | None, selection: Selection
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    pooled = score_pooled(solvers, repro) if repro is not None else {}
    for cand in solvers:
        row: dict[str, float] = {}
        if cand.id in pooled:
            row["pooled_tests_passed"] = pooled[cand.id]
        for name, values in selection.signals.items():
            if cand.id in values:
                row[name] = values[cand.id]
        if cand.id in selection.scores:
            row[selection.method] = selection.scores[cand.id]
        if row:
            out[cand.id] = row
    return out
