"""bench_report.html from a real bench directory (tests/fixtures/bench_small, made by
tests/fixtures/make_bench_small.py): the numbers against the records, computed here
independently; the figures; older and damaged benches; small_model_scaling.py's output; and
the page in headless Chromium at desktop and phone widths. That `quorum bench` writes it is
checked in tests/quorum/test_bench.py, on a bench graded in Docker."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quorum.cli import app
from quorum.report.bench_render import BENCH_HTML, render_bench_html, write_bench_report
from quorum.report.bench_view import build_bench_view
from quorum.report.plots import fit_coverage
from tests.helpers.allocated_run import STOP, write_record
from tests.helpers.chromium import Chromium, png_stats

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BENCH = FIXTURES / "bench_small"
PLOTS = 5  # coverage, selection gap, resolve vs cost, cost per resolved, reliability


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fixture bench with its report rebuilt by `quorum report`, once."""
    root = Path(shutil.copytree(BENCH, tmp_path_factory.mktemp("bench") / "bench_small"))
    result = CliRunner().invoke(app, ["report", str(root)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(root / BENCH_HTML)
    return root


def _records(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "bench.jsonl").read_text().splitlines()]


def _unbiased(n: int, c: int, k: int) -> float:
    """pass@k = 1 - C(n-c, k) / C(n, k), written out here, not imported."""
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def test_the_report_holds_the_benchs_numbers(bench: Path) -> None:
    html = (bench / BENCH_HTML).read_text()
    records = _records(bench)
    assert len(records) == 4
    assert f"<span class=\"v\" data-instances>{len(records)}</span>" in html
    resolved = sum(r["resolved"] for r in records)
    assert resolved == 3 and f"<span class=\"v\" data-resolved>{resolved}</span>" in html
    cost = sum(r["cost_usd"] for r in records)
    assert f"<span class=\"v\" data-cost>${cost:.4f}</span>" in html
    n = max(len(r["candidate_resolved"]) for r in records)
    assert n == 3
    for k in range(1, n + 1):
        expected = sum(_unbiased(len(r["candidate_resolved"]), sum(r["candidate_resolved"]), k)
                       for r in records) / len(records)  # fmt: skip
        [cell] = re.findall(rf'data-pass-at-k="{k}" data-value="([0-9.]+)"', html)
        assert float(cell) == pytest.approx(expected, abs=1e-6), k
        # and what quorum bench itself wrote
        assert json.loads((bench / "bench_report.json").read_text())["pass_at_k"][str(k)] == (
            pytest.approx(expected, abs=1e-4)
        )
    assert [float(x) for x in re.findall(r'data-pass-at-k="\d" data-value="([0-9.]+)"', html)] \
        == pytest.approx([7 / 12, 5 / 6, 1.0])  # fmt: skip


def test_selection_re_run_on_all_candidates_is_the_benchs_own_choice(bench: Path) -> None:
    """selected@N over every candidate is one subset: the run itself, the same evidence and
    selector, so it equals the bench's resolve rate; coverage@N is its coverage."""
    view = build_bench_view(bench)
    records = _records(bench)
    full = next(p for p in view.scaling if p.k == 3)
    assert full.instances == 4
    assert full.selected == pytest.approx(sum(r["resolved"] for r in records) / 4)
    assert full.coverage == pytest.approx(sum(any(r["candidate_resolved"]) for r in records) / 4)
    for point in view.scaling:
        assert point.selected + point.wrong + point.abstain == pytest.approx(1.0)
        assert point.coverage == pytest.approx(view.pass_at_k[point.k])  # every subset taken
    assert [p.k for p in view.scaling] == [1, 2, 3]


def test_reliability_comes_from_each_instances_confidence(bench: Path) -> None:
    view = build_bench_view(bench)
    outcomes = []
    for rec in _records(bench):
        sel = json.loads((bench / "runs" / rec["instance_id"] / "selection.json").read_text())
        outcomes.append((sel["confidence"] if sel["chosen"] else None, rec["resolved"]))
    for row in view.reliability:
        answered = [right for conf, right in outcomes if conf is not None and conf >= row.threshold]
        assert row.answered == len(answered)
        assert row.precision == (sum(answered) / len(answered) if answered else None)
    assert view.reliability[0].abstention == 0.0 and view.reliability[0].precision == 0.75


def test_repositories_and_instance_links(bench: Path) -> None:
    html = (bench / BENCH_HTML).read_text()
    repos = re.findall(r'<tr data-repo="([^"]+)">', html)
    assert repos == ["micro/basket", "micro/change", "micro/durations", "micro/windows"]
    links = re.findall(r'<a href="([^"]+)" data-instance-report>', html)
    assert links == [f"runs/{r['instance_id']}/report.html" for r in _records(bench)]
    for link in links:  # written by the bench report where the bench lacked them
        assert (bench / link).is_file() and "<!doctype html>" in (bench / link).read_text()


def test_the_page_is_self_contained_and_deterministic(bench: Path) -> None:
    html = (bench / BENCH_HTML).read_text()
    assert len(re.findall(r"<svg\b", html)) == PLOTS
    assert len(re.findall(r'<svg [^>]*viewBox="[^"]+"[^>]*width="100%"', html)) == PLOTS
    assert "<script" not in html and "@import" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert not re.search(r"url\((?!#|data:)", html)
    assert "<dc:date>" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # five figures' ids, prefixed apart
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', html)
    assert refs and set(refs) <= set(ids)  # markers, clip paths and the contents resolve
    write_bench_report(bench, strict=True)
    assert (bench / BENCH_HTML).read_text() == html  # same bench, same bytes


def test_a_page_written_elsewhere_links_back_to_the_instances(bench: Path, tmp_path: Path
                                                              ) -> None:  # fmt: skip
    elsewhere = tmp_path / "site" / "reports"
    result = CliRunner().invoke(app, ["report", str(bench), "--out", str(elsewhere)])
    assert result.exit_code == 0, result.output
    html = (elsewhere / BENCH_HTML).read_text()
    links = re.findall(r'<a href="([^"]+)" data-instance-report>', html)
    assert len(links) == len(_records(bench)) and all(link.startswith("../") for link in links)
    for link, rec in zip(links, _records(bench), strict=True):  # resolves as a browser would
        target = (elsewhere / link).resolve()
        assert target == (bench / "runs" / rec["instance_id"] / "report.html").resolve()
        assert target.is_file()


def test_the_coverage_fit_recovers_a_power_law() -> None:
    points = [(k, math.exp(-1.2 * k**-0.5)) for k in (1, 2, 4, 8)]
    a, b = fit_coverage(points)
    assert (a, b) == (pytest.approx(-1.2), pytest.approx(-0.5))
    assert fit_coverage([(1, 0.5), (2, 1.0)]) is None  # one usable point


def test_the_coverage_legend_shows_the_fitted_parameters(bench: Path) -> None:
    view = build_bench_view(bench)
    a, b = fit_coverage(sorted(view.pass_at_k.items()))
    html = (bench / BENCH_HTML).read_text()
    assert f"a = {a:.3f}, b = {b:.3f}" in html


def _old_records(root: Path) -> None:
    """An earlier bench: no run directories, records without the newer fields."""
    shutil.rmtree(root / "runs")
    keep = {"instance_id", "status", "patch"}
    lines = [json.dumps({k: v for k, v in r.items() if k in keep}) for r in _records(root)]
    (root / "bench.jsonl").write_text("\n".join(lines) + "\n")
    (root / "bench_report.json").unlink()


def _damaged(root: Path) -> None:
    with (root / "bench.jsonl").open("a") as out:
        out.write('{"instance_id": "x__y-1", "status": 3, "candidate_resolved": "yes"}\n{"cut')
    (root / "runs" / "micro__basket-1" / "matrix.json").write_text("{not json")
    (root / "runs" / "micro__windows-1" / "candidates.jsonl").write_text('{"id": 1}\n')
    (root / "runs" / "micro__change-1" / "selection.json").write_text("[]")
    (root / "bench_report.json").write_text("{")


def _unfinished(root: Path) -> None:
    (root / "bench.jsonl").write_text("")


@pytest.mark.parametrize("make_old", [_old_records, _damaged, _unfinished],
                         ids=["old-records", "damaged", "no-instance-yet"])  # fmt: skip
def test_older_and_damaged_benches_render_with_absent_fields(tmp_path: Path, make_old) -> None:
    root = Path(shutil.copytree(BENCH, tmp_path / "b"))
    make_old(root)
    result = CliRunner().invoke(app, ["report", str(root)])
    assert result.exit_code == 0, result.output
    html = (root / BENCH_HTML).read_text()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "absent" in html
    if make_old is _damaged:
        view = build_bench_view(root)
        assert any("bench.jsonl line 6 is not JSON" in n for n in view.notes)
        assert "x__y-1" in [i.id for i in view.instances] and "x/y" in html


def test_each_instance_says_what_its_allocation_policy_saved(bench: Path, tmp_path: Path
                                                             ) -> None:  # fmt: skip
    assert "data-allocation" not in (bench / BENCH_HTML).read_text()  # no policy: no column
    root = Path(shutil.copytree(BENCH, tmp_path / "b"))
    first = _records(root)[0]["instance_id"]
    options = json.loads((root / "runs" / first / "options.json").read_text())
    options["rollout"]["n"] = 6
    (root / "runs" / first / "options.json").write_text(json.dumps(options))
    write_record(root / "runs" / first, "adaptive")  # four of six started, one cancelled
    view = build_bench_view(root)
    row = next(i for i in view.instances if i.id == first)
    assert (row.allocation, row.allocation_planned) == ("adaptive", 6)
    assert row.allocation_saved == 2 + 1
    assert row.allocation_stopped == STOP.removeprefix("stopped: ")
    html = render_bench_html(view)
    cells = re.findall(r'data-allocation="([^"]*)"', html)
    assert cells == ["adaptive"] + [""] * (len(view.instances) - 1)
    assert "adaptive · saved <span data-saved>3</span> of 6" in html


def test_quorum_report_tells_a_bench_from_a_run(tmp_path: Path) -> None:
    run = Path(shutil.copytree(FIXTURES / "run_small", tmp_path / "run"))
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0 and not (run / BENCH_HTML).exists()
    assert (run / "report.html").is_file()


@pytest.mark.slow
def test_chromium_shows_the_bench_report_at_phone_and_desktop_widths(
    bench: Path, tmp_path: Path
) -> None:
    page_path = bench / BENCH_HTML
    with Chromium() as browser:
        for width in (1280, 390):
            page = browser.open(page_path, width=width)
            assert page.problems == [], page.problems
            assert page.requests == [page_path.as_uri()]  # nothing fetched
            assert page.evaluate("document.querySelectorAll('svg[data-plot]').length") == PLOTS
            links = page.evaluate(
                "[...document.querySelectorAll('a[data-instance-report]')].map(a => a.href)"
            )
            assert links == [(bench / "runs" / r["instance_id"] / "report.html").as_uri()
                             for r in _records(bench)]  # fmt: skip
            heights = page.evaluate(
                "[...document.querySelectorAll('svg[data-plot]')].map(s => "
                "s.getBoundingClientRect().height)"
            )
            assert all(h > 100 for h in heights), heights  # drawn, not collapsed
            shot = page.screenshot()
            (tmp_path / f"bench-{width}.png").write_bytes(shot)
            stats = png_stats(shot)
            assert (stats.width, stats.height) == (width, 900)
            assert stats.colours > 30 and stats.ink > 0.03, stats
            scroll = "[document.documentElement.scrollWidth, innerWidth]"
            assert page.evaluate(scroll) == [width, width]  # no horizontal scroll
            page.evaluate("document.getElementById('plots').scrollIntoView()")
            plots = png_stats(page.screenshot())
            assert plots.colours > 30, plots  # the figures themselves, not blank


# -- small_model_scaling.py's output (tests/fixtures/scaling_small) ---------------------------
def test_the_scaling_layout_draws_the_recorded_figures(tmp_path: Path) -> None:
    """The README's small-model table comes with its picture: the page's figures are the
    ones results.json records (the same quorum.scaling code, the same candidates)."""
    root = Path(shutil.copytree(FIXTURES / "scaling_small", tmp_path / "scaling"))
    result = CliRunner().invoke(app, ["report", str(root)])
    assert result.exit_code == 0, result.output
    recorded = json.loads((root / "results.json").read_text())
    summary = recorded["summary"]["agent"]
    view = build_bench_view(root)
    assert view.layout == "scaling" and view.done_instances == len(recorded["tasks"])
    assert view.pass_at_k[1] == pytest.approx(summary["pass_at_1"])
    for point in view.scaling:
        if f"selected_at_{point.k}" in summary:
            assert point.selected == pytest.approx(summary[f"selected_at_{point.k}"])
            assert point.coverage == pytest.approx(summary[f"coverage_at_{point.k}"])
            assert point.wrong == pytest.approx(summary[f"wrong_at_{point.k}"])
    html = (root / BENCH_HTML).read_text()
    assert "small_model_scaling.py output" in html
    assert len(re.findall(r"<svg\b", html)) == PLOTS
    links = re.findall(r'<a href="([^"]+)" data-instance-report>', html)
    assert links == [f"agent/{t}/report.html" for t in recorded["grades"]["agent"]]
    assert all((root / link).is_file() for link in links)


@pytest.mark.slow
def test_small_model_scaling_report_flag_writes_the_page(tmp_path: Path) -> None:
    root = Path(shutil.copytree(FIXTURES / "scaling_small", tmp_path / "scaling"))
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "small_model_scaling.py"
    done = subprocess.run(
        [sys.executable, str(script), "--rescore", "--solvers", "agent", "--max-n", "3",
         "--tasks", "basket", "--out", str(root), "--report"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"report: {root / BENCH_HTML}" in done.stdout
    html = (root / BENCH_HTML).read_text()
    assert len(re.findall(r"<svg\b", html)) == PLOTS and "data-instances>4<" in html
