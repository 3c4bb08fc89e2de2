"""The bench report's figures: matplotlib (Agg, no display) drawn to inline SVG strings.

The SVG is deterministic (a fixed hash salt per figure, no date in its metadata, text kept
as text), so the same bench gives the same bytes; each figure scales to its container
(a viewBox, width 100%), so a phone shows it without a horizontal scroll.

Coverage is fitted as Large Language Monkeys (Brown et al. 2024, "Large Language Monkeys:
Scaling Inference Compute with Repeated Sampling", section 3) model it: an exponentiated
power law, coverage(k) = exp(a * k**b), fitted by least squares on
log(-log coverage) = log(-a) + b * log k over the points with 0 < coverage < 1."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, ever

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from quorum.report.bench_view import BenchView

SIZE = (6.4, 3.6)  # inches: 460.8 x 259.2 pt, the viewBox
BLUE, PURPLE, ORANGE, GREY, GREEN = "#0969da", "#8250df", "#bc4c00", "#57606a", "#1a7f37"
STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, no glyph paths
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}


def fit_coverage(points: Sequence[tuple[int, float]]) -> tuple[float, float] | None:
    """(a, b) of coverage(k) = exp(a * k**b), or None with fewer than two usable points."""
    usable = [(math.log(k), math.log(-math.log(c))) for k, c in points if 0 < c < 1 and k > 0]
    if len(usable) < 2 or len({x for x, _ in usable}) < 2:
        return None
    n = len(usable)
    mx, my = sum(x for x, _ in usable) / n, sum(y for _, y in usable) / n
    sxx = sum((x - mx) ** 2 for x, _ in usable)
    b = sum((x - mx) * (y - my) for x, y in usable) / sxx
    a = -math.exp(my - b * mx)
    return a, b


def _svg(fig: Figure, name: str) -> str:
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": f"quorum-{name}"}):  # distinct ids per figure
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None},
                    bbox_inches=None)  # fmt: skip
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # inline: no XML declaration, no DOCTYPE
    head, rest = text.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    head += f' width="100%" role="img" aria-label="{name}" data-plot="{name}"'
    # matplotlib numbers its groups from 1 in every figure (figure_1, axes_1): prefix
    # every id, and every reference to one, so that the page's ids stay unique
    rest = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', rest)
    rest = re.sub(r'(href="#|url\(#)([^")]+)', rf"\1{name}-\2", rest)
    return head + ">" + rest


def _figure() -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=SIZE, layout="constrained")
    return fig, ax


def _log_k(ax: plt.Axes, ks: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ks))  # every k measured, labelled
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(min(ks) / 1.3, max(ks) * 1.3)
    ax.set_xlabel("k (candidates sampled per instance)")


def _percent(ax: plt.Axes, top: float = 1.0) -> None:
    ax.set_ylim(0, top * 1.05)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))


def coverage_plot(view: BenchView) -> str | None:
    points = sorted(view.pass_at_k.items())
    if not points:
        return None
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        ks = [k for k, _ in points]
        ax.plot(ks, [c for _, c in points], "o", color=BLUE, label="coverage (pass@k)")
        fit = fit_coverage(points)
        if fit is not None:
            a, b = fit
            grid = [min(ks) * (max(ks) / min(ks)) ** (i / 60) for i in range(61)]
            ax.plot(grid, [math.exp(a * k**b) for k in grid], "-", color=GREY, linewidth=1.2,
                    label=f"fit exp(a·k^b): a = {a:.3f}, b = {b:.3f}")  # fmt: skip
        else:
            ax.plot([], [], " ", label="no fit: needs two k with 0 < coverage < 1")
        _log_k(ax, ks)
        _percent(ax)
        ax.set_ylabel("instances some candidate resolves")
        ax.legend(loc="lower right")
        return _svg(fig, "coverage")


def selection_gap_plot(view: BenchView) -> str | None:
    pts = view.scaling
    if not pts:
        return None
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        ks = [p.k for p in pts]
        cov, sel = [p.coverage for p in pts], [p.selected for p in pts]
        ax.fill_between(ks, sel, cov, color=BLUE, alpha=0.12, linewidth=0,
                        label="selection gap")  # fmt: skip
        ax.plot(ks, cov, "o-", color=BLUE, label="coverage@k")
        ax.plot(ks, sel, "s-", color=PURPLE, label="selected@k")
        ax.plot(ks, [p.wrong for p in pts], "^:", color=ORANGE, label="wrong@k")
        _log_k(ax, ks)
        _percent(ax)
        ax.set_ylabel("share of instances")
        ax.legend(loc="upper left")
        return _svg(fig, "selection-gap")


def cost_plot(view: BenchView) -> str | None:
    pts = [p for p in view.scaling if p.cost_usd is not None]
    if not pts:
        return None
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        xs = [p.cost_usd for p in pts]
        ax.plot(xs, [p.coverage for p in pts], "o--", color=BLUE, label="coverage@k")
        ax.plot(xs, [p.selected for p in pts], "s-", color=PURPLE,
                label="resolve rate (selected@k)")
        for p in pts:
            ax.annotate(f"k={p.k}", (p.cost_usd, p.selected), textcoords="offset points",
                        xytext=(4, -11), fontsize=8, color=GREY)  # fmt: skip
        if all(x > 0 for x in xs) and max(xs) / min(xs) > 3:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _dollars(v)))
        _percent(ax)
        ax.set_xlabel("mean spend per instance (USD)")
        ax.set_ylabel("share of instances")
        ax.legend(loc="lower right")
        return _svg(fig, "resolve-vs-cost")


def cost_per_resolved_plot(view: BenchView) -> str | None:
    pts = [p for p in view.scaling if p.cost_usd is not None]
    if not pts:
        return None
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        labels = [str(p.k) for p in pts]
        values = [p.cost_usd / p.selected if p.selected else 0.0 for p in pts]
        bars = ax.bar(labels, values, color=GREEN, width=0.6)
        for bar, p, v in zip(bars, pts, values, strict=True):
            text = _dollars(v) if p.selected else "none resolved"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, v), ha="center",
                        textcoords="offset points", xytext=(0, 3), fontsize=8)  # fmt: skip
        ax.set_ylim(0, max([*values, 1e-9]) * 1.2)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _dollars(v)))
        ax.set_xlabel("k (candidates sampled per instance)")
        ax.set_ylabel("USD per resolved instance")
        ax.grid(axis="x", visible=False)
        return _svg(fig, "cost-per-resolved")


def reliability_plot(view: BenchView) -> str | None:
    rows = view.reliability
    if not rows or not rows[0].instances:
        return None
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        ts = [r.threshold for r in rows]
        ax.plot(ts, [r.abstention for r in rows], "-", color=ORANGE, label="abstention rate")
        ax.plot(ts, [r.precision if r.precision is not None else math.nan for r in rows], "-",
                color=PURPLE, label="precision when answering")  # fmt: skip
        ax.plot(ts, [r.accuracy for r in rows], ":", color=GREY, label="resolved (of all)")
        ax.set_xlim(0, 1)
        _percent(ax)
        ax.set_xlabel("confidence threshold (abstain below)")
        ax.set_ylabel("share")
        ax.legend(loc="center left")
        return _svg(fig, "reliability")


def _dollars(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:.2f}" if value >= 1 else f"${value:.4f}".rstrip("0")


PLOTS: dict[str, tuple[str, Callable[[BenchView], str | None]]] = {
    "coverage": ("Coverage against k", coverage_plot),
    "selection-gap": ("Selected beside coverage", selection_gap_plot),
    "resolve-vs-cost": ("Resolve rate against dollars", cost_plot),
    "cost-per-resolved": ("Cost per resolved instance", cost_per_resolved_plot),
    "reliability": ("Abstention and precision against the threshold", reliability_plot),
}


def draw_all(view: BenchView) -> dict[str, str | None]:
    """Figure name -> its inline SVG, or None where the bench lacks what it needs."""
    return {name: draw(view) for name, (_, draw) in PLOTS.items()}
