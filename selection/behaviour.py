"""Behaviour signatures: what every normalised-patch cluster's representative (and the
original code, "__original__") does on the same probe calls, and the behaviour clusters
that follow from it. Clusters whose outputs are identical on every call are one fix
whatever their text; a representative whose run failed entirely (patch did not apply,
setup raised, every call an import error) tells nothing and stays alone.

The runs themselves are selection/differential.py's; this is the data and its reading."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict, Field

from selection.pool import Group

# Outcomes meaning the code could not even be loaded: not a behaviour, a failed run.
_BROKEN = ("raise ImportError", "raise ModuleNotFoundError", "raise SyntaxError",
           "raise IndentationError")  # fmt: skip


class BehaviourTable(BaseModel):
    """One outcome per call: `repr(value)` (bounded), `raise ExcType: message` or
    `timeout`. `clusters` holds every candidate id, biggest cluster first; the first id of
    a cluster is a representative with outputs unless its run failed (`failed`)."""

    model_config = ConfigDict(extra="forbid")

    setup: str
    calls: list[str]
    outputs: dict[str, list[str]] = Field(
        default_factory=dict, description="representative id (and __original__) -> outcomes"
    )
    clusters: list[list[str]] = Field(default_factory=list)
    failed: dict[str, str] = Field(
        default_factory=dict, description="representative id -> why its run told nothing"
    )
    dropped_calls: list[str] = Field(
        default_factory=list,
        description="calls whose outcome differed between two runs "
        "of the original code (nondeterministic): left out",
    )
    unused_calls: list[str] = Field(
        default_factory=list, description="lines of the model's CALLS block not run, with why")
    note: str = Field("", description="why there is no behaviour signal, when there is none")
    replies: list[str] = Field(
        default_factory=list, description="the probe model's replies as written (bounded)")
    cost_usd: float = 0
    tokens: int = 0
    seconds: float = 0

    @property
    def usable(self) -> bool:
        """Whether it can speak: calls left, every candidate in a cluster, and the calls
        tell something apart (two behaviours, or a behaviour that is not the original's)."""
        return bool(self.calls) and bool(self.clusters) and self.informative

    @property
    def informative(self) -> bool:
        """Some call's outcome differs between two representatives, or between the
        patched code and the original. Probes that see the same everywhere are blind: the
        agreement they would show is not evidence of a fix."""
        seen = {tuple(self.outputs[ids[0]]) for ids in self.clusters
                if ids and ids[0] in self.outputs and ids[0] not in self.failed}  # fmt: skip
        if len(seen) > 1:
            return True
        original = self.outputs.get("__original__")
        return bool(seen) and original is not None and seen != {tuple(original)}

    def distinguishing(self, a: str, b: str) -> list[int]:
        """Indices of the calls on which representatives a and b differ; [] when either has
        no outputs."""
        out_a, out_b = self.outputs.get(a), self.outputs.get(b)
        if out_a is None or out_b is None:
            return []
        return [i for i, (x, y) in enumerate(zip(out_a, out_b, strict=True)) if x != y]

    def cluster_of(self) -> dict[str, int]:
        """Candidate id -> index of its behaviour cluster."""
        return {cid: i for i, ids in enumerate(self.clusters) for cid in ids}

    def votes(self) -> dict[str, float]:
        """Candidate id -> share of the pool in its behaviour cluster."""
        n = max(sum(len(ids) for ids in self.clusters), 1)
        return {cid: len(ids) / n for ids in self.clusters for cid in ids}


    def restricted(self, ids: Collection[str]) -> BehaviourTable:
        """The table as a run with only these candidates would have it (a sub-sample of a
        recorded pool): clusters cut to them, each led by a member whose outputs stand for
        the cluster (members of one behaviour cluster have the same outputs)."""
        clusters, outputs = [], {k: v for k, v in self.outputs.items() if k == "__original__"}
        failed = {k: v for k, v in self.failed.items() if k in ids}
        for members in self.clusters:
            kept = [c for c in members if c in ids]
            if not kept:
                continue
            clusters.append(kept)
            source = next((c for c in members if c in self.outputs and c not in self.failed),
                          None)  # fmt: skip
            if source is not None and kept[0] not in self.failed:
                outputs[kept[0]] = self.outputs[source]
        clusters.sort(key=lambda c: -len(c))
        return self.model_copy(update={"clusters": clusters, "outputs": outputs,
                                       "failed": failed})  # fmt: skip


def broken_run(outcomes: list[str]) -> bool:
    """Every call failed to load the code: the run says nothing about behaviour."""
    return bool(outcomes) and all(o.startswith(_BROKEN) for o in outcomes)


def merge_by_outputs(
    group: Group, outputs: Mapping[str, list[str]], failed: Mapping[str, str]
) -> list[list[str]]:
    """Normalised-patch clusters merged where their representatives' outputs are equal on
    every call; failed or unrun representatives keep their cluster alone. Biggest first,
    then in pool order."""
    merged: dict[object, list[str]] = {}
    for key, ids in group.clusters().items():
        rep = ids[0]
        sig: object = tuple(outputs[rep]) if rep in outputs and rep not in failed else key
        merged.setdefault(sig, []).extend(ids)
    ordered = list(merged.values())
    return sorted(ordered, key=lambda ids: -len(ids))  # stable: pool order among equals
