"""A confidence that means a probability: logistic regression from what selection saw about
its winner (its support, its lead over the runner-up, the share of the pool in its patch
cluster, how many distinct fixes competed) to P(the winner is correct), fitted on recorded
runs; a reliability table and the expected calibration error (ECE) to check it.

Fitted by Newton's method (IRLS) in plain Python: five parameters need no numpy, and a
small L2 penalty keeps the fit finite when the recorded outcomes are separable (a few tasks
often are). `leave_one_group_out` predicts every example from a fit that never saw its
group (its task), so a reliability table over those predictions is an honest estimate:
no task calibrates itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selection.result import Selection
from selection.signals import Signals

# The inputs, as recorded in Selection.evidence["features"], and how each enters the model:
# the number of distinct fixes by its logarithm (the second rival matters more than the
# tenth).
TRANSFORMS: dict[str, Callable[[float], float]] = {
    "support": float,
    "margin": float,
    "cluster_share": float,
    "distinct_fixes": lambda n: math.log(max(n, 1.0)),
}
FEATURES: tuple[str, ...] = tuple(TRANSFORMS)


class Calibration(BaseModel):
    """P(correct) = sigmoid(intercept + sum of coefficient x transformed feature)."""

    model_config = ConfigDict(extra="forbid")

    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    intercept: float = 0.0
    coefficients: list[float] = Field(default_factory=lambda: [0.0] * len(FEATURES))
    l2: float = Field(1.0, ge=0, description="the penalty the fit used (intercept unpenalised)")
    fitted_on: str = Field("", description="what the examples were: runs, tasks, N, date")
    examples: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _matching(self) -> Calibration:
        unknown = [f for f in self.features if f not in TRANSFORMS]
        if unknown or len(self.coefficients) != len(self.features):
            raise ValueError(f"features {self.features} (unknown: {unknown}) and "
                             f"{len(self.coefficients)} coefficients do not match")  # fmt: skip
        return self

    def probability(self, values: Mapping[str, float]) -> float:
        x = design(values, self.features)
        return _sigmoid(self.intercept + sum(w * v for w, v in zip(self.coefficients, x,
                                                                   strict=True)))  # fmt: skip


class Example(BaseModel):
    """One selection made on recorded candidates and whether its winner was right."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="what must not calibrate itself: the task id")
    n: int = Field(0, ge=0, description="candidates it chose among")
    features: dict[str, float]
    raw: float = Field(ge=0, le=1, description="the uncalibrated confidence (support)")
    correct: bool


def selection_features(signals: Signals, scores: Mapping[str, float], ranking: Sequence[str],
                       support: float) -> dict[str, float]:  # fmt: skip
    """What hybrid.select knows about its winner (ranking[0]), as the calibration reads it.
    margin: combined score over the runner-up's (the support itself without a runner-up,
    as the disagreement rule counts it); cluster_share: the winner's vote share (behaviour
    clusters where observed, else normalised patches) of the pool (of the code-changing
    candidates when no votes were counted)."""
    winner = ranking[0]
    runner = ranking[1] if len(ranking) > 1 else None
    margin = scores[winner] - scores[runner] if runner else support
    keys = signals.behaviour_keys or signals.patch_keys  # behaviour clusters where observed
    votes = signals.votes()
    if winner in votes:
        share = votes[winner]
    else:
        mine = keys.get(winner, winner)
        share = sum(keys.get(c, c) == mine for c in signals.ids) / max(len(signals.ids), 1)
    fixes = len({keys.get(c, c) for c in signals.ids}) or 1
    return {"support": support, "margin": margin, "cluster_share": share,
            "distinct_fixes": float(fixes)}  # fmt: skip


def example_of(selection: Selection, labels: Mapping[str, bool], n: int = 0
               ) -> Example | None:  # fmt: skip
    """A recorded selection as an example: the features it saw about its winner
    (ranking[0], abstaining or not), its uncalibrated confidence, and the winner's grade.
    None without a winner (no code change) or without a grade for it."""
    ranking = selection.evidence.get("ranking") or []
    feats = selection.evidence.get("features")
    if not ranking or feats is None or ranking[0] not in labels:
        return None
    raw = selection.evidence.get("raw_confidence", selection.confidence)
    return Example(group=selection.task_id, n=n or len(ranking), features=feats, raw=raw,
                   correct=bool(labels[ranking[0]]))  # fmt: skip


def design(values: Mapping[str, float], features: Sequence[str]) -> list[float]:
    return [TRANSFORMS[f](float(values.get(f, 0.0))) for f in features]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """a x = b by Gaussian elimination with partial pivoting (a is small and, with the
    penalty, positive definite)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        if abs(m[col][col]) < 1e-12:
            raise ArithmeticError("calibration: singular system (add an L2 penalty)")
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit(examples: Sequence[Example], *, features: Sequence[str] = FEATURES, l2: float = 1.0,
        fitted_on: str = "", iterations: int = 50) -> Calibration:  # fmt: skip
    """The penalised maximum-likelihood logistic fit, by Newton steps to convergence."""
    if not examples:
        raise ValueError("calibration: no examples to fit")
    rows = [[1.0, *design(e.features, features)] for e in examples]
    ys = [float(e.correct) for e in examples]
    k = len(features) + 1
    w = [0.0] * k
    for _ in range(iterations):
        grad = [l2 * w[j] if j else 0.0 for j in range(k)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(k)] for i in range(k)]
        for x, y in zip(rows, ys, strict=True):
            p = _sigmoid(sum(a * b for a, b in zip(w, x, strict=True)))
            s = max(p * (1 - p), 1e-9)
            for i in range(k):
                grad[i] += (p - y) * x[i]
                for j in range(k):
                    hess[i][j] += s * x[i] * x[j]
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return Calibration(features=list(features), intercept=w[0], coefficients=w[1:], l2=l2,
                       fitted_on=fitted_on, examples=len(examples))  # fmt: skip


def leave_one_group_out(examples: Sequence[Example], *, features: Sequence[str] = FEATURES,
                        l2: float = 1.0, folds: int | None = None,
                        ) -> tuple[list[float], dict[str, Calibration]]:  # fmt: skip
    """Each example's P(correct) from a fit on the other groups only, and those fits by
    held-out group. With `folds`, the sorted groups are dealt into that many folds and a
    whole fold is held out at once (hundreds of groups, a few fits; still no group sees
    itself). Nothing left to learn from gives P = 0.5."""
    groups = sorted({e.group for e in examples})
    k = min(folds or len(groups), len(groups))
    fold_of = {g: i % k for i, g in enumerate(groups)} if k else {}
    by_fold: dict[int, Calibration] = {}
    for f in range(k):
        rest = [e for e in examples if fold_of[e.group] != f]
        by_fold[f] = (fit(rest, features=features, l2=l2, fitted_on=f"all but fold {f}")
                      if rest else Calibration(features=list(features),
                                               coefficients=[0.0] * len(features)))  # fmt: skip
    fits = {g: by_fold[fold_of[g]] for g in groups}
    return [fits[e.group].probability(e.features) for e in examples], fits


class Bucket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float
    high: float
    count: int
    mean_p: float = Field(description="mean predicted probability; 0 when empty")
    accuracy: float = Field(description="share of them correct; 0 when empty")


def calibration_buckets(probs: Sequence[float], correct: Sequence[bool], buckets: int = 10
                ) -> list[Bucket]:  # fmt: skip
    """Equal-width buckets of predicted p over [0, 1] (p = 1 falls in the last)."""
    if len(probs) != len(correct):
        raise ValueError("reliability: probabilities and outcomes differ in length")
    members: list[list[int]] = [[] for _ in range(buckets)]
    for i, p in enumerate(probs):
        members[min(int(p * buckets), buckets - 1)].append(i)
    out = []
    for b, idx in enumerate(members):
        n = len(idx)
        out.append(Bucket(
            low=b / buckets, high=(b + 1) / buckets, count=n,
            mean_p=sum(probs[i] for i in idx) / n if n else 0.0,
            accuracy=sum(correct[i] for i in idx) / n if n else 0.0,
        ))  # fmt: skip
    return out


def expected_calibration_error(table: Sequence[Bucket]) -> float:
    """Sum over buckets of (its share of the examples) x |mean p - accuracy|."""
    total = sum(b.count for b in table)
    if not total:
        return 0.0
    return sum(b.count / total * abs(b.mean_p - b.accuracy) for b in table)


def brier_score(probs: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean squared error of the probabilities: unlike the ECE, a constant guess of the
    base rate does not score well on it."""
    return sum((p - float(c)) ** 2 for p, c in zip(probs, correct, strict=True)) / max(
        len(probs), 1)  # fmt: skip


def format_reliability(table: Sequence[Bucket]) -> str:
    lines = ["| p bucket | count | mean p | accuracy |", "| --- | --- | --- | --- |"]
    lines += [f"| {b.low:.1f}-{b.high:.1f} | {b.count} | {b.mean_p:.3f} | {b.accuracy:.3f} |"
              for b in table if b.count]  # fmt: skip
    return "\n".join(lines)
