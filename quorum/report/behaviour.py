"""What the behaviour probes and the pairwise tournament did in a run, from selection.json's
`evidence["behaviour"]` (selection/behaviour.py's BehaviourTable) and
`evidence["tournament"]` (selection/tournament.py's TournamentResult). Read field by field
like the rest of the view: missing or malformed evidence means no section, never an
exception. Outputs and answers are the candidates' and the model's: untrusted text,
bounded here, escaped by the HTML template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quorum.report.readers import _dict, _int, _list, _num, _str
from selection.matrix import ORIGINAL  # "__original__": the unpatched code's outputs

TEXT_CHARS = 400  # per call, output or answer; the whole text stays in selection.json


@dataclass
class ProbeColumn:
    """One column of the calls × behaviours table: the unpatched code, or one behaviour
    cluster through its representative's outputs."""

    label: str  # "unpatched", "behaviour 1", …
    rep: str | None  # the representative whose outputs these are; None: unpatched
    members: list[str]
    patch_clusters: list[str]  # the normalised-patch clusters (letters) it holds
    outputs: list[str | None]  # one per call; None: absent
    failed: str | None = None  # why its run told nothing

    @property
    def merged(self) -> bool:
        """Textually different patches that behave alike on every call."""
        return len(self.patch_clusters) > 1


@dataclass
class BehaviourView:
    setup: str
    calls: list[str]
    columns: list[ProbeColumn]  # unpatched first, then the clusters, biggest first
    dropped_calls: list[str]
    note: str | None  # why there is no behaviour signal, when there is none
    cost_usd: float | None
    tokens: int | None
    seconds: float | None

    @property
    def clusters(self) -> list[ProbeColumn]:
        return [c for c in self.columns if c.rep is not None]

    @property
    def merged(self) -> list[ProbeColumn]:
        return [c for c in self.clusters if c.merged]


@dataclass
class JudgeView:
    a_first: bool | None  # whether a's outputs were shown as Output 1
    raw: str | None  # the model's answer as it wrote it
    said: str  # the answer as the side it names: a cluster's label, neither, unparsed
    error: str | None = None


@dataclass
class MatchView:
    number: int
    round: int | None
    a: str  # the higher seed's representative
    b: str
    a_label: str
    b_label: str
    calls: list[str]  # the distinguishing calls shown to the model
    outputs_a: list[str | None]
    outputs_b: list[str | None]
    answers: list[JudgeView]
    outcome: str  # a b tie neither same unfinished (or what a later version writes)
    result: str  # the outcome in words
    advanced: str | None  # the label of the cluster that went on; None: unfinished
    stopped: str | None


@dataclass
class TournamentView:
    entrants: list[str]  # labels, by seed
    left_out: list[str]
    winner: str | None  # label
    winner_members: list[str]
    scores: list[tuple[str, float]]  # label -> [0, 1], by seed
    matches: list[MatchView]
    stopped: str | None
    cost_usd: float | None
    tokens: int | None
    model_calls: int | None
    seconds: float | None
    members: dict[str, list[str]] = field(default_factory=dict)  # label -> candidate ids


def _text(value: Any) -> str | None:
    text = _str(value)
    if text is None or len(text) <= TEXT_CHARS:
        return text
    return text[:TEXT_CHARS] + f"… ({len(text) - TEXT_CHARS} more characters)"


def _ids(value: Any) -> list[str]:
    return [i for i in _list(value) if isinstance(i, str)]


def _clusters(value: Any) -> list[list[str]]:
    return [ids for ids in (_ids(group) for group in _list(value)) if ids]


def _labels(*cluster_lists: list[list[str]]) -> dict[str, str]:
    """Representative -> "behaviour N": the behaviour table's order (biggest first), then
    any cluster only the tournament names."""
    labels: dict[str, str] = {}
    for clusters in cluster_lists:
        for ids in clusters:
            labels.setdefault(ids[0], f"behaviour {len(labels) + 1}")
    return labels


def _outputs(value: Any, n: int) -> list[str | None]:
    got = [_text(o) for o in _list(value)]
    return (got + [None] * n)[:n]


def build_behaviour(evidence: dict[str, Any], patch_cluster: dict[str, str]
                    ) -> BehaviourView | None:  # fmt: skip
    """The probes' table, or None when the run has none. `patch_cluster`: candidate id ->
    its normalised-patch cluster letter (the view's)."""
    data = _dict(evidence.get("behaviour"))
    calls = _list(data.get("calls"))
    note = _str(data.get("note")) or None
    if not data or (not calls and note is None) or not all(isinstance(c, str) for c in calls):
        return None
    outputs, failed = _dict(data.get("outputs")), _dict(data.get("failed"))
    clusters = _clusters(data.get("clusters"))
    labels = _labels(clusters)
    columns = [ProbeColumn("unpatched", None, [], [], _outputs(outputs.get(ORIGINAL), len(calls)))]
    for ids in clusters:
        letters = sorted({patch_cluster[c] for c in ids if c in patch_cluster},
                         key=lambda s: (len(s), s))  # fmt: skip
        columns.append(ProbeColumn(
            labels[ids[0]], ids[0], ids, letters, _outputs(outputs.get(ids[0]), len(calls)),
            failed=_text(failed.get(ids[0])) if ids[0] in failed else None,
        ))  # fmt: skip
    return BehaviourView(
        setup=_text(data.get("setup")) or "",
        calls=[_text(c) or "" for c in calls],
        columns=columns,
        dropped_calls=[_text(c) or "" for c in _ids(data.get("dropped_calls"))],
        note=note,
        cost_usd=_num(data.get("cost_usd")),
        tokens=_int(data.get("tokens")),
        seconds=_num(data.get("seconds")),
    )


def _result(outcome: str, a: str, b: str, stopped: str | None) -> str:
    return {
        "a": f"{a} wins (both orders name it)",
        "b": f"{b} wins (both orders name it)",
        "tie": "a draw: the two orders disagree",
        "neither": "neither: the model wants neither behaviour",
        "same": "the same behaviour on every call (no model call)",
        "unfinished": f"unfinished: {stopped or 'the judgement stopped'}",
    }.get(outcome, outcome)


def _answer(data: Any, labels: tuple[str, str]) -> JudgeView:
    data = _dict(data)
    side = _str(data.get("side"))
    said = {"a": labels[0], "b": labels[1], "neither": "neither"}.get(side or "", "unparsed")
    a_first = data.get("a_first")
    return JudgeView(a_first=a_first if isinstance(a_first, bool) else None,
                     raw=_text(data.get("raw")), said=said,
                     error=_text(data.get("error")))  # fmt: skip


def build_tournament(evidence: dict[str, Any]) -> TournamentView | None:
    """The knockout's matches and winner, or None when the run has none."""
    data = _dict(evidence.get("tournament"))
    if not data or not isinstance(data.get("matches"), list):
        return None
    clusters = _clusters(data.get("clusters"))
    labels = _labels(_clusters(_dict(evidence.get("behaviour")).get("clusters")), clusters)
    members = {labels[ids[0]]: ids for ids in clusters}

    def label(rep: str | None) -> str | None:
        return None if rep is None else labels.get(rep, rep)

    matches = []
    for n, item in enumerate(_list(data.get("matches")), 1):
        item, verdict = _dict(item), _dict(_dict(item).get("verdict"))
        a, b = _str(item.get("a")), _str(item.get("b"))
        if a is None or b is None:
            continue  # a match that names no sides tells nothing
        la, lb = label(a) or a, label(b) or b
        calls = [_text(c) or "" for c in _ids(verdict.get("calls"))]
        outcome = _str(verdict.get("outcome")) or "absent"
        stopped = _text(verdict.get("stopped"))
        matches.append(MatchView(
            number=_int(verdict.get("match")) or n, round=_int(item.get("round")),
            a=a, b=b, a_label=la, b_label=lb, calls=calls,
            outputs_a=_outputs(verdict.get("outputs_a"), len(calls)),
            outputs_b=_outputs(verdict.get("outputs_b"), len(calls)),
            answers=[_answer(x, (la, lb)) for x in _list(verdict.get("answers"))],
            outcome=outcome, result=_result(outcome, la, lb, stopped),
            advanced=label(_str(item.get("advanced"))), stopped=stopped,
        ))  # fmt: skip
    winner = label(_str(data.get("winner")))
    scores = [(label(rep) or rep, s) for rep, s in _dict(data.get("scores")).items()
              if _num(s) is not None]  # fmt: skip
    return TournamentView(
        entrants=[label(r) or r for r in _ids(data.get("entrants"))],
        left_out=[label(r) or r for r in _ids(data.get("left_out"))],
        winner=winner,
        winner_members=members.get(winner or "", []),
        scores=[(name, float(s)) for name, s in scores],
        matches=matches,
        stopped=_text(data.get("stopped")),
        cost_usd=_num(data.get("cost_usd")),
        tokens=_int(data.get("tokens")),
        model_calls=_int(data.get("model_calls")),
        seconds=_num(data.get("seconds")),
        members=members,
    )
