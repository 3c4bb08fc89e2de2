"""report.html and report.md from a real run directory (tests/fixtures/run_small, made by
tests/fixtures/make_run_small.py), from older and damaged ones, and in a real browser.

The browser tests need Debian's `chromium` (`make setup` installs it); they fail, never
skip, when it is missing."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quorum.cli import app
from quorum.report import build_view, render_html, render_markdown, write_reports
from tests.helpers.allocated_run import CANCELLED, STOP, allocated
from tests.helpers.chromium import Chromium, png_stats, run_cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_small"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A copy of the fixture run (its reports are written into the copy)."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "run_small"))


def _json(path: Path):
    return json.loads(path.read_text())


class _Dom(HTMLParser):
    """Elements by class and data attribute: enough to count what the page shows."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append({"tag": tag, **{k: v or "" for k, v in attrs}})

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, attr: str, value: str | None = None) -> list[dict[str, str]]:
        return [e for e in self.elements if attr in e and (value is None or e[attr] == value)]

    def classed(self, name: str) -> list[dict[str, str]]:
        return [e for e in self.elements if name in e.get("class", "").split()]


def _dom(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def _expected_matrix(run: Path) -> tuple[int, int]:
    """Rows (the unpatched one included) and columns (generated tests, quarantined ones
    included, then repository tests), counted from the run's own files."""
    matrix, regress = _json(run / "matrix.json"), _json(run / "regressions.json")
    flaky = _json(run / "selection.json")["evidence"]["test_pool"]["flaky"]
    rows = set(matrix["candidate_ids"]) | set(regress["candidate_ids"])
    columns = len(matrix["test_ids"]) + len(flaky) + len(regress["test_ids"])
    return len(rows), columns


# -- the numbers -----------------------------------------------------------------------------
def test_the_report_holds_the_runs_numbers(run: Path) -> None:
    write_reports(run)
    html, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    dom = _dom(html)
    selection, cost = _json(run / "selection.json"), _json(run / "cost.json")
    candidates = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]

    rows = dom.having("data-candidate")
    assert [r["data-candidate"] for r in rows] == [c["id"] for c in candidates]
    assert len(rows) == 6  # four solvers, two test writers
    solvers = [c for c in candidates if c["solver"] != "test_writer"]
    assert f'<span class="v" data-candidates>{len(solvers)}</span>' in html
    assert len(solvers) == 4

    n_rows, n_cols = _expected_matrix(run)
    assert (n_rows, n_cols) == (4, 39)  # unpatched + 3 patches; 3 + 1 quarantined + 35 repo
    [grid] = dom.having("data-rows")
    assert (int(grid["data-rows"]), int(grid["data-cols"])) == (n_rows, n_cols)
    cells = dom.classed("cell")
    cells = [c for c in cells if "data-state" in c]  # the legend's swatches have none
    assert len(cells) == n_rows * n_cols == 156
    states = [c["data-state"] for c in cells]
    assert states.count("quarantined") == n_rows  # the flaky test's column
    matrix = _json(run / "matrix.json")
    fails = sum(not cell["passed"] for row in matrix["cells"].values() for cell in row.values())
    regress = _json(run / "regressions.json")
    fails += sum(not c["passed"] for row in regress["cells"].values() for c in row.values())
    assert states.count("fail") == fails == 7

    chosen = selection["chosen"]
    assert chosen == "r0-t0"
    assert len(dom.having("data-chosen")) == 1
    assert f"<code data-chosen>{chosen}</code>" in html
    assert dom.having("data-outcome", "chosen")
    assert f"${cost['total']['usd']:.4f}" in html  # $0.0082
    assert f"of a ${cost['caps']['run_usd']:.2f} cap" in html

    assert f"**Outcome:** selected {chosen}" in md
    assert f"${cost['total']['usd']:.4f} of a $0.25 cap" in md
    assert "156 cells" in md
    for cand in candidates:
        assert f"| {cand['id']}" in md
    assert "absent" not in md  # a whole run lacks nothing


def test_each_candidate_shows_its_scores_diff_and_test(run: Path) -> None:
    view = build_view(run)
    by_id = {c.id: c for c in view.candidates}
    right, wrong, silent = by_id["r0-t0"], by_id["r0-t1"], by_id["r0-t3"]
    assert (right.tests_passed, right.tests_total, right.regressions) == (2, 2, 0)
    assert (wrong.tests_passed, wrong.regressions) == (1, 3)  # breaks `10 - 4 - 3`
    assert right.cluster == by_id["r0-t2"].cluster == "A" and wrong.cluster == "B"
    assert right.verifier == pytest.approx(0.9) and wrong.verifier == pytest.approx(0.35)
    assert right.score is not None and wrong.score is not None and right.score > wrong.score
    assert silent.exit_status == "format_errors" and not silent.has_patch
    assert [d.kind for d in right.diff].count("add") == right.added == 1
    assert right.own_test and (right.own_test.before, right.own_test.after) == ("fail", "pass")
    callers = {r.name for r in view.cost.by_caller}
    assert callers == {"agent", "test writer", "verifier"}
    assert [r.id for r in view.timeline] == [t.id for t in view.trajectories]
    steps = view.trajectories[0].steps
    assert steps[0].thought and steps[0].action.startswith("edit: create")
    assert "Observation" in render_html(view)


def test_quorum_report_rebuilds_it(run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "report.html").is_file() and (run / "report.md").is_file()
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out)])
    assert result.exit_code == 0 and (out / "report.html").read_text() == (
        run / "report.html"
    ).read_text()


def test_quorum_report_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "is neither a run directory nor a bench directory" in result.output
    assert "bench.jsonl" in result.output and "candidates.jsonl" in result.output  # what each holds
    result = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "no such run directory" in result.output


def test_quorum_select_on_a_run_writes_its_report(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "selected"
    result = CliRunner().invoke(app, ["select", str(run), "--method", "votes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    chosen = _json(out / "selection.json")["chosen"]
    assert chosen and f"<code data-chosen>{chosen}</code>" in html
    assert "votes" in html  # the new selection's method, not the run's own


# -- runs from earlier versions, and damaged ones ------------------------------------------
def _strip_candidates(run: Path, keep: set[str]) -> None:
    lines = (run / "candidates.jsonl").read_text().splitlines()
    kept = [json.dumps({k: v for k, v in json.loads(line).items() if k in keep}) for line in lines]
    (run / "candidates.jsonl").write_text("\n".join(kept) + "\n")


def _old_no_matrix_no_cost(run: Path) -> None:
    for name in ("matrix.json", "regressions.json", "cost.json", "spend.jsonl"):
        (run / name).unlink()
    _strip_candidates(run, {"id", "task_id", "patch", "solver", "exit_status"})


def _old_minimal(run: Path) -> None:
    for name in ("matrix.json", "regressions.json", "cost.json", "spend.jsonl", "options.json"):
        (run / name).unlink()
    shutil.rmtree(run / "trajectories")
    shutil.rmtree(run / "tests")
    _strip_candidates(run, {"id", "patch"})
    sel = _json(run / "selection.json")
    (run / "selection.json").write_text(json.dumps({"task_id": sel["task_id"], "method": "x",
                                                    "chosen": sel["chosen"]}))  # fmt: skip


def _old_task_only(run: Path) -> None:
    for path in run.iterdir():
        if path.name != "task.json":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _damaged(run: Path) -> None:
    with (run / "candidates.jsonl").open("a") as out:
        out.write('{"id": "r1-t0", "patch": 3, "steps": "many", "scores": [1]}\n{"id": "cut')
    (run / "selection.json").write_text("{not json")
    (run / "matrix.json").write_text(json.dumps({"cells": [], "test_ids": "x"}))
    (run / "cost.json").write_text(json.dumps({"total": {"usd": "lots"}, "by_caller": []}))
    traj = run / "trajectories" / "r0-t0.json"
    data = _json(traj)
    data["steps"] = [{"index": "one", "args": "x"}, 7]
    data["started_at"] = "yesterday"
    traj.write_text(json.dumps(data))


def _abstained_with_refusals(run: Path) -> None:
    sel = _json(run / "selection.json")
    sel.update(chosen=None, confidence=0.2, rationale="The evidence disagrees.")
    (run / "selection.json").write_text(json.dumps(sel))
    cost = _json(run / "cost.json")
    cost["refusals"] = 2
    (run / "cost.json").write_text(json.dumps(cost))


def _killed_mid_run(run: Path) -> None:
    """What a killed `quorum solve` leaves: trajectories and the spend journal."""
    for name in ("candidates.jsonl", "selection.json", "matrix.json", "regressions.json",
                 "cost.json", "patch.diff"):  # fmt: skip
        (run / name).unlink()


OLD_RUNS = {
    "killed-mid-run": _killed_mid_run,
    "no-matrix-no-cost": _old_no_matrix_no_cost,
    "minimal": _old_minimal,
    "task-only": _old_task_only,
    "damaged": _damaged,
    "abstained": _abstained_with_refusals,
}


@pytest.mark.parametrize("make_old", OLD_RUNS.values(), ids=OLD_RUNS.keys())
def test_older_and_damaged_runs_render_with_absent_fields(run: Path, make_old) -> None:
    make_old(run)
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    html, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    if make_old is not _abstained_with_refusals:
        assert "absent" in html and "absent" in md


def test_old_runs_say_what_they_lack(run: Path) -> None:
    _old_no_matrix_no_cost(run)
    view = build_view(run)
    assert view.matrix is None and view.cost is None
    assert all(c.steps is not None for c in view.candidates)  # from the trajectories
    html = render_html(view)
    assert "The pass matrix is absent" in html and "Cost is absent" in html
    assert "tokens" in html and view.outcome.chosen == "r0-t0"


def test_a_killed_run_shows_its_trajectories_and_spend(run: Path) -> None:
    _killed_mid_run(run)
    view = build_view(run)
    assert len(view.candidates) == 6 and not any(c.recorded for c in view.candidates)
    assert view.outcome.state == "absent" and view.cost and view.cost.source == "spend.jsonl"
    assert [c.exit_status for c in view.candidates].count("submitted") == 5
    assert "No candidate record" in render_html(view)


def test_damaged_files_become_notes(run: Path) -> None:
    _damaged(run)
    view = build_view(run)
    assert any("selection.json could not be read" in n for n in view.notes)
    assert any("candidates.jsonl line 8" in n for n in view.notes)
    assert view.outcome.state == "absent"
    assert "r1-t0" in [c.id for c in view.candidates]
    assert "selection.json could not be read" in render_markdown(view)


def test_abstention_and_refusals_are_plain(run: Path) -> None:
    _abstained_with_refusals(run)
    write_reports(run)
    html, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    assert "Abstained — no patch is proposed" in html and "**Outcome:** abstained" in md
    assert '<span class="v" data-refusals>2</span>' in html
    assert "2 call(s) refused by the budget" in md


def test_an_allocation_policy_says_why_it_stopped_and_what_it_saved(run: Path) -> None:
    allocated(run)
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    html, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    dom = _dom(html)
    [block] = dom.having("data-policy")
    assert block["data-policy"] == "consensus"
    stop = STOP.removeprefix("stopped: ")
    assert f"<span data-stopped>{stop}</span>" in html
    assert "<b data-not-started>2</b> never started" in html  # N = 6, four started
    assert "<b data-cancelled>1</b> cancelled while running" in html
    assert [d["data-decision"] for d in dom.having("data-decision")] == [
        "launch", "wait", "launch", "launch", "stop"]
    [row] = re.findall(rf'data-candidate="{CANCELLED}">(.*?)</tr>', html, re.S)
    assert '<span class="pill cancelled">cancelled</span>' in row  # its exit, from the stop
    assert (f"**Allocation:** consensus policy; sampling stopped: {stop}. 4 of 6 trajectories "
            f"started, 2 never started, 1 cancelled while running ({CANCELLED}).") in md
    fixed = build_view(FIXTURE)  # no allocation.json: nothing about allocation anywhere
    assert fixed.allocation is None and not _dom(render_html(fixed)).having("data-policy")
    assert "Allocation" not in render_html(fixed) and "Allocation" not in render_markdown(fixed)
    assert "cancelled" not in render_markdown(fixed)


def test_cost_falls_back_to_the_spend_journal(run: Path) -> None:
    full = build_view(run).cost
    (run / "cost.json").unlink()
    journal = build_view(run).cost
    assert full and journal and journal.source == "spend.jsonl"
    assert journal.usd == pytest.approx(full.usd) and journal.calls == full.calls
    assert journal.cap_usd == 0.25  # from options.json
    assert {r.name: r.usd for r in journal.by_model} == pytest.approx(
        {r.name: r.usd for r in full.by_model}
    )


def test_secrets_and_markup_never_reach_the_page(run: Path) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    traj = run / "trajectories" / "r0-t0.json"
    data = _json(traj)
    data["steps"][1]["observation"] = f"OPENAI_API_KEY={secret}\n<script>alert(1)</script>"
    traj.write_text(json.dumps(data))
    task = _json(run / "task.json")
    task["problem_statement"] += f"\nmy key: {secret} </pre><img src=x onerror=alert(2)>"
    (run / "task.json").write_text(json.dumps(task))
    write_reports(run)
    for name in ("report.html", "report.md"):
        text = (run / name).read_text()
        assert secret not in text, name
    html = (run / "report.html").read_text()
    assert "[REDACTED]" in html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_is_self_contained(run: Path) -> None:
    write_reports(run)
    html = (run / "report.html").read_text()
    assert "<script" not in html  # nothing to run, nothing to break
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert not re.search(r"url\((?!data:)", html) and "@import" not in html
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))


# -- in a browser ----------------------------------------------------------------------------
@pytest.mark.slow
def test_chromium_dumps_the_matrix_without_console_errors(run: Path) -> None:
    write_reports(run)
    dom, log = run_cli((run / "report.html").as_uri(), "--dump-dom", "--enable-logging=stderr",
                       "--v=0")  # fmt: skip
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    parsed = _dom(dom)
    n_rows, n_cols = _expected_matrix(run)
    assert len([c for c in parsed.classed("cell") if "data-state" in c]) == n_rows * n_cols
    assert parsed.having("data-chosen")


@pytest.mark.slow
def test_chromium_shows_it_at_phone_and_desktop_widths(run: Path, tmp_path: Path) -> None:
    write_reports(run)
    old = tmp_path / "old"
    shutil.copytree(FIXTURE, old)
    _old_minimal(old)
    write_reports(old)
    policy = allocated(Path(shutil.copytree(FIXTURE, tmp_path / "allocated")))
    write_reports(policy)
    n_rows, n_cols = _expected_matrix(run)
    with Chromium() as browser:
        for width in (1280, 390):
            page = browser.open(run / "report.html", width=width)
            assert page.problems == [], page.problems
            assert page.requests == [(run / "report.html").as_uri()]  # nothing fetched
            assert page.evaluate("document.querySelectorAll('.matrix .cell').length") == (
                n_rows * n_cols
            )
            shot = page.screenshot()
            (tmp_path / f"report-{width}.png").write_bytes(shot)
            stats = png_stats(shot)
            assert (stats.width, stats.height) == (width, 900)
            assert stats.colours > 50 and stats.ink > 0.05, stats  # text, tables, colours
            scroll = "[document.documentElement.scrollWidth, innerWidth]"
            assert page.evaluate(scroll) == [width, width]  # no horizontal scroll
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.evaluate(scroll) == [width, width], "an opened diff or step overflows"
            page = browser.open(old / "report.html", width=width)
            assert page.problems == [] and page.evaluate(scroll) == [width, width]
            page = browser.open(policy / "report.html", width=width)  # its decisions opened
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.problems == [] and page.evaluate(scroll) == [width, width]
            assert page.evaluate("document.querySelectorAll('[data-decision]').length") == 5


def test_a_renderer_bug_never_costs_the_run(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """solve and select write the reports last: a rendering failure leaves a report saying
    so, not a crash after the money is spent; `quorum report` names it as an error."""
    import quorum.report.render as render

    def broken(view):
        raise ZeroDivisionError("a template bug")

    monkeypatch.setattr(render, "render_html", broken)
    assert write_reports(run) is None
    assert "could not be rendered (ZeroDivisionError: a template bug)" in (
        run / "report.html"
    ).read_text()
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 1 and "could not be rendered" in result.output
