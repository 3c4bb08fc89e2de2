"""A pairwise knockout between behaviour clusters, judged on distinguishing inputs.

Two clusters meet on the calls where their outputs differ (a few, shortest first); the
model sees the issue, the calls and the two outputs, never a patch or an id, and says
which output the issue asks for (selection.judge_prompt). Each pair is asked in both
orders: it is a win only when both orders name the same side, so a judge that always
says "1" produces ties, not winners (Meta's Recursive Tournament Voting, Trae Agent's
selector; S* for the distinguishing inputs).

The knockout is seeded by cluster size (biggest first, the top seeds get the byes) and a
drawn or NEITHER match sends the higher seed on, so without a judgement the tournament
falls back to the vote. At most `max_pairs` matches (the biggest `max_pairs + 1`
clusters enter), two model calls each, every call through the ledger; a budget refusal or
a failed model call stops it, and what was played stays in the result.

Score of a cluster: its points over its matches (win 1, draw or same behaviour 0.5, loss
or NEITHER 0); a cluster that played no finished match has the neutral 0.5."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import BudgetExhausted, Completion, Model, ModelError
from selection.judge_prompt import Answer, judge_messages, parse_answer

Outcome = Literal["a", "b", "tie", "neither", "same", "unfinished"]
NEUTRAL = 0.5
_POINTS: dict[str, tuple[float, float]] = {
    "a": (1.0, 0.0), "b": (0.0, 1.0), "tie": (0.5, 0.5), "same": (0.5, 0.5),
    "neither": (0.0, 0.0),
}  # fmt: skip


class JudgeAnswer(BaseModel):
    """One of the two orders: `a_first` when a's outputs were shown as Output 1."""

    model_config = ConfigDict(extra="forbid")

    a_first: bool
    raw: str | None = None
    answer: Answer | None = Field(None, description="as the model labelled it; None: unparsed")
    side: Literal["a", "b", "neither"] | None = Field(None, description="the answer, unlabelled")
    cost_usd: float = 0.0
    tokens: int = 0


class PairVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: int
    calls: list[str] = Field(default_factory=list, description="the distinguishing calls shown")
    outputs_a: list[str] = Field(default_factory=list)
    outputs_b: list[str] = Field(default_factory=list)
    answers: list[JudgeAnswer] = Field(default_factory=list, description="a first, then b first")
    outcome: Outcome = "same"
    cost_usd: float = 0.0
    tokens: int = 0
    seconds: float = 0.0
    stopped: str | None = Field(None, description="why the judgement could not finish")

    @property
    def winner(self) -> Literal["a", "b"] | None:
        return "a" if self.outcome == "a" else "b" if self.outcome == "b" else None


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round: int
    a: str = Field(description="representative of the higher seed")
    b: str
    advanced: str | None = Field(None, description="None when the match did not finish")
    verdict: PairVerdict


class TournamentResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clusters: list[list[str]] = Field(description="every cluster, as given")
    entrants: list[str] = Field(default_factory=list, description="representatives, by seed")
    left_out: list[str] = Field(default_factory=list, description="beyond max_pairs + 1")
    winner: str | None = Field(None, description="representative that won its final outright")
    scores: dict[str, float] = Field(default_factory=dict, description="representative -> [0, 1]")
    matches: list[Match] = Field(default_factory=list)
    stopped: str | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    model_calls: int = 0
    seconds: float = 0.0

    @property
    def decided(self) -> int:
        return sum(m.verdict.winner is not None for m in self.matches)

    def candidate_scores(self) -> dict[str, float]:
        """Candidate id -> its cluster's score: the `tournament` signal. Empty when no
        match was won outright, so a tournament that told nothing apart is no signal
        rather than a constant that dilutes the others."""
        if not self.decided:
            return {}
        return {cid: self.scores[ids[0]] for ids in self.clusters if ids[0] in self.scores
                for cid in ids}  # fmt: skip

    @property
    def winner_ids(self) -> list[str]:
        return next((ids for ids in self.clusters if ids and ids[0] == self.winner), [])


def distinguishing(
    calls: Sequence[str], out_a: Sequence[str], out_b: Sequence[str], limit: int
) -> list[int]:
    """Indices of the calls where the outputs differ, shortest (call + outputs) first."""
    if not len(calls) == len(out_a) == len(out_b):
        raise ValueError(f"{len(calls)} calls but {len(out_a)} and {len(out_b)} outputs")
    differ = [i for i in range(len(calls)) if out_a[i] != out_b[i]]
    differ.sort(key=lambda i: (len(calls[i]) + len(out_a[i]) + len(out_b[i]), i))
    return differ[:limit]


def _side(answer: Answer | None, a_first: bool) -> Literal["a", "b", "neither"] | None:
    if answer is None:
        return None
    if answer == "NEITHER":
        return "neither"
    return "a" if (answer == "1") == a_first else "b"


async def _ask(
    llm: Model, messages: list[dict[str, str]], a_first: bool, *, max_tokens: int,
    trajectory_id: str,
) -> JudgeAnswer | BaseException:  # fmt: skip
    try:
        done: Completion = await llm.complete(
            messages, caller="tournament", trajectory_id=trajectory_id,
            max_tokens=max_tokens, temperature=0.0)  # fmt: skip
    except (BudgetExhausted, ModelError) as exc:
        return exc
    answer = parse_answer(done.text)
    return JudgeAnswer(a_first=a_first, raw=done.text, answer=answer,
                       side=_side(answer, a_first), cost_usd=done.cost_usd,
                       tokens=done.usage.total_tokens)  # fmt: skip


async def judge_pair(
    llm: Model, issue: str, setup: str, calls: Sequence[str], out_a: Sequence[str],
    out_b: Sequence[str], idx: int, *, max_shown: int = 3, max_tokens: int = 32,
    trajectory_id: str = "tournament",
) -> PairVerdict:  # fmt: skip
    """Which of two behaviours the issue asks for, judged on their distinguishing calls in
    both orders. No distinguishing call: "same", without a model call. `idx` numbers the
    match in the evidence. A refused or failed call leaves the verdict "unfinished" with
    the reason in `stopped`; what the other order cost is still counted."""
    start = time.monotonic()
    shown = distinguishing(calls, out_a, out_b, max_shown)
    verdict = PairVerdict(match=idx, calls=[calls[i] for i in shown],
                          outputs_a=[out_a[i] for i in shown],
                          outputs_b=[out_b[i] for i in shown])  # fmt: skip
    if not shown:
        return verdict
    a_first = judge_messages(issue, setup, [(calls[i], out_a[i], out_b[i]) for i in shown])
    b_first = judge_messages(issue, setup, [(calls[i], out_b[i], out_a[i]) for i in shown])
    kw = {"max_tokens": max_tokens, "trajectory_id": trajectory_id}
    got = await asyncio.gather(_ask(llm, a_first, True, **kw), _ask(llm, b_first, False, **kw))
    verdict.answers = [g for g in got if isinstance(g, JudgeAnswer)]
    verdict.cost_usd = sum(g.cost_usd for g in verdict.answers)
    verdict.tokens = sum(g.tokens for g in verdict.answers)
    failed = [g for g in got if isinstance(g, BaseException)]
    if failed:
        verdict.outcome = "unfinished"
        verdict.stopped = f"{type(failed[0]).__name__}: {failed[0]}"
    else:
        first, second = (g.side for g in verdict.answers)
        verdict.outcome = first if first is not None and first == second else "tie"
    verdict.seconds = time.monotonic() - start
    return verdict


def _bracket(alive: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Byes for the top seeds up to a power of two, the rest paired top against bottom."""
    byes = (1 << (len(alive) - 1).bit_length()) - len(alive)
    rest = alive[byes:]
    return alive[:byes], [(rest[i], rest[-1 - i]) for i in range(len(rest) // 2)]


async def run_tournament(
    llm: Model, issue: str, setup: str, calls: Sequence[str],
    outputs: Mapping[str, Sequence[str]], clusters: Sequence[Sequence[str]], *,
    max_pairs: int = 7, max_shown: int = 3, max_tokens: int = 32,
    trajectory_id: str = "tournament",
) -> TournamentResult:  # fmt: skip
    """A knockout between the clusters' representatives (each cluster's first id; its
    outputs are `outputs[rep]`, one per call). See the module's docstring."""
    start = time.monotonic()
    clusters = [list(ids) for ids in clusters if ids]
    missing = [ids[0] for ids in clusters if ids[0] not in outputs]
    if missing:
        raise ValueError(f"no outputs for the representatives {missing}")
    by_size = sorted(clusters, key=len, reverse=True)  # stable: given order breaks ties
    seeds = [ids[0] for ids in by_size]
    result = TournamentResult(clusters=clusters, entrants=seeds[: max_pairs + 1],
                              left_out=seeds[max_pairs + 1 :])  # fmt: skip
    seed = {rep: n for n, rep in enumerate(seeds)}
    points: dict[str, list[float]] = {rep: [] for rep in seeds}
    alive, round_no, final = list(result.entrants), 0, None
    while len(alive) > 1 and result.stopped is None:
        round_no += 1
        byes, pairs = _bracket(alive)
        advancing = list(byes)
        for a, b in pairs:
            verdict = await judge_pair(
                llm, issue, setup, calls, outputs[a], outputs[b], len(result.matches) + 1,
                max_shown=max_shown, max_tokens=max_tokens, trajectory_id=trajectory_id,
            )  # fmt: skip
            result.model_calls += len(verdict.answers)
            result.cost_usd += verdict.cost_usd
            result.tokens += verdict.tokens
            if verdict.stopped:
                result.matches.append(Match(round=round_no, a=a, b=b, verdict=verdict))
                result.stopped = verdict.stopped
                break
            up = b if verdict.outcome == "b" else a  # a draw sends the higher seed on
            pa, pb = _POINTS[verdict.outcome]
            points[a].append(pa)
            points[b].append(pb)
            final = Match(round=round_no, a=a, b=b, advanced=up, verdict=verdict)
            result.matches.append(final)
            advancing.append(up)
        alive = sorted(advancing, key=seed.__getitem__)
    if result.stopped is None and final is not None and final.verdict.winner is not None:
        result.winner = final.advanced
    result.scores = {rep: sum(p) / len(p) if p else NEUTRAL for rep, p in points.items()}
    result.seconds = time.monotonic() - start
    return result
