"""The run report's behaviour section: the probe calls x behaviour clusters table and the
pairwise tournament's matches, from a copy of the real run fixture (tests/fixtures/
run_small) whose selection.json gets the evidence dumped from the writers' own models
(selection/behaviour.py, selection/tournament.py). Outputs are untrusted: escaped in the
HTML; malformed evidence renders without the section, never a crash."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from quorum.report import build_view, write_reports
from selection.behaviour import BehaviourTable
from selection.tournament import JudgeAnswer, Match, PairVerdict, TournamentResult
from tests.helpers.chromium import Chromium

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_small"
CALLS = ["evaluate('10 - 4 - 3')", "evaluate('2 * 3 + 1')", "evaluate('8 / 2 / 2')"]
# three textually different patches (clusters A, B, C); r0-t0 and r0-t2 behave alike
PATCH_CLUSTERS = [["r0-t0"], ["r0-t2"], ["r0-t1"]]
BEHAVIOURS = [["r0-t0", "r0-t2"], ["r0-t1"]]
OUTPUTS = {
    "__original__": ["9", "7", "8.0"],
    "r0-t0": ["3", "7", "2.0"],
    "r0-t1": ["9", "7", "raise ZeroDivisionError: division by zero"],
}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "run_small"))


def _table(**changes: Any) -> dict[str, Any]:
    fields = {"setup": "from calc import evaluate", "calls": CALLS, "outputs": OUTPUTS,
              "clusters": BEHAVIOURS, "dropped_calls": ["evaluate(str(time.time()))"],
              "cost_usd": 0.0031, "tokens": 2345, "seconds": 4.5} | changes  # fmt: skip
    return BehaviourTable(**fields).model_dump()


def _answer(a_first: bool, raw: str, side: str | None) -> JudgeAnswer:
    answer = None if side is None else raw.removeprefix("ANSWER: ")
    return JudgeAnswer(a_first=a_first, raw=raw, answer=answer, side=side, tokens=40,
                       cost_usd=0.0001)  # fmt: skip


def _tournament() -> dict[str, Any]:
    """Three behaviours: the top seed's bye, a draw (the orders disagree: a position bias)
    that sends the higher seed on, then a final the smaller cluster wins outright."""
    clusters = [["r0-t0", "r0-t2"], ["r0-t1"], ["r0-t3"]]
    draw = PairVerdict(match=1, calls=[CALLS[2]], outputs_a=[OUTPUTS["r0-t1"][2]],
                       outputs_b=["4.0"], outcome="tie",
                       answers=[_answer(True, "ANSWER: 1", "a"),
                                _answer(False, "ANSWER: 1", "b")])  # fmt: skip
    final = PairVerdict(match=2, calls=[CALLS[0], CALLS[2]], outputs_a=["3", "2.0"],
                        outputs_b=["9", "raise ZeroDivisionError: division by zero"],
                        outcome="a", answers=[_answer(True, "ANSWER: 1", "a"),
                                              _answer(False, "ANSWER: 2", "a")])  # fmt: skip
    result = TournamentResult(
        clusters=clusters, entrants=["r0-t0", "r0-t1", "r0-t3"], winner="r0-t0",
        scores={"r0-t0": 1.0, "r0-t1": 0.25, "r0-t3": 0.5},
        matches=[Match(round=1, a="r0-t1", b="r0-t3", advanced="r0-t1", verdict=draw),
                 Match(round=2, a="r0-t0", b="r0-t1", advanced="r0-t0", verdict=final)],
        cost_usd=0.0004, tokens=160, model_calls=4, seconds=2.0,
    )  # fmt: skip
    return result.model_dump()


def _with_evidence(run: Path, **evidence: Any) -> Path:
    path = run / "selection.json"
    selection = json.loads(path.read_text())
    selection["evidence"]["patch_clusters"] = PATCH_CLUSTERS
    selection["evidence"].update(evidence)
    path.write_text(json.dumps(selection))
    return run


def _reports(run: Path) -> tuple[str, str]:
    write_reports(run, strict=True)
    return (run / "report.md").read_text(), (run / "report.html").read_text()


def _section(md: str, title: str) -> str:
    """A markdown section, up to the next heading of its level."""
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", md, re.S | re.M)
    assert match, f"no section {title}"
    return match.group(1)


class _Cells(HTMLParser):
    """The text of each cell of the tables inside one element (by id), row by row."""

    def __init__(self, within: str) -> None:
        super().__init__()
        self.within, self.depth, self.rows = within, 0, []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in ("br", "img", "meta")
        elif ("id", self.within) in attrs:
            self.depth = 1
        if self.depth and tag == "tr":
            self.rows.append([])
        if self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def _rows(html: str, within: str = "behaviour") -> list[list[str]]:
    parser = _Cells(within)
    parser.feed(html)
    return parser.rows


def test_the_probe_table_shows_each_call_per_cluster_and_the_merge(run: Path) -> None:
    md, html = _reports(_with_evidence(run, behaviour=_table()))
    view = build_view(run).behaviour
    assert view is not None
    assert [c.label for c in view.columns] == ["unpatched", "behaviour 1", "behaviour 2"]
    assert [c.patch_clusters for c in view.clusters] == [["A", "B"], ["C"]]
    assert [c.label for c in view.merged] == ["behaviour 1"]

    rows = _rows(html)
    assert rows[0] == ["call", "unpatched", "behaviour 1 (r0-t0, r0-t2) A B",
                       "behaviour 2 (r0-t1) C"]  # fmt: skip
    probe = rows[1 : 1 + len(CALLS)]
    assert probe == [[call, OUTPUTS["__original__"][i], OUTPUTS["r0-t0"][i], OUTPUTS["r0-t1"][i]]
                     for i, call in enumerate(CALLS)]  # fmt: skip
    assert "<b>behaviour 1</b> holds textually different patches (clusters A, B)" in html
    assert "1 call left out: nondeterministic" in html and "$0.0031 · 2,345 tokens" in html

    section = _section(md, "Behaviour")
    assert "| call | unpatched | behaviour 1 (r0-t0, r0-t2) | behaviour 2 (r0-t1) |" in section
    assert ("| `evaluate('8 / 2 / 2')` | `8.0` | `2.0` | "
            "`raise ZeroDivisionError: division by zero` |") in section  # fmt: skip
    assert "Behaviour 1 merges textually different patches: clusters A, B" in section
    assert "$0.0031, 2,345 tokens, 4.5 s; 1 nondeterministic call(s) left out" in section


def test_each_match_shows_its_calls_both_answers_and_the_winner(run: Path) -> None:
    md, html = _reports(_with_evidence(run, behaviour=_table(), tournament=_tournament()))
    view = build_view(run).tournament
    assert view is not None and view.winner == "behaviour 1"
    assert [m.outcome for m in view.matches] == ["tie", "a"]
    assert view.members["behaviour 3"] == ["r0-t3"]  # only the tournament names it

    assert '<b data-winner>behaviour 1</b> <span class="mono small">(r0-t0, r0-t2)</span>' in html
    draw, final = html.split('<div class="match"')[1:]
    assert 'data-match="1"' in draw and 'data-match="2"' in final
    assert "a draw: the two orders disagree" in draw and "behaviour 2 goes on" in draw
    answers = re.findall(r"<li data-answer>(.*?)</li>", draw)
    assert answers == ["behaviour 2's outputs first: <code>ANSWER: 1</code> → behaviour 2",
                       "behaviour 3's outputs first: <code>ANSWER: 1</code> → behaviour 3"]
    rows = _rows(html)
    assert ["evaluate('8 / 2 / 2')", "raise ZeroDivisionError: division by zero", "4.0"] in rows
    assert "behaviour 1 wins (both orders name it)" in final
    assert ["evaluate('10 - 4 - 3')", "3", "9"] in rows

    section = _section(md, "Tournament")
    assert section.startswith("\n**Winner:** behaviour 1 (r0-t0, r0-t2). 2 match(es), 4 model")
    assert ("**Match 1** (round 1): behaviour 2 (r0-t1) vs behaviour 3 (r0-t3): a draw: the "
            "two orders disagree; behaviour 2 goes on. Behaviour 2 first: `ANSWER: 1` → "
            "behaviour 2. Behaviour 3 first: `ANSWER: 1` → behaviour 3.") in section
    assert "behaviour 1 wins (both orders name it); behaviour 1 goes on." in section
    assert "| `evaluate('10 - 4 - 3')` | `3` | `9` |" in section


def test_outputs_are_bounded_in_markdown_and_escaped_in_html(run: Path) -> None:
    hostile = "'<script>alert(1)</script>' | </code><img src=x onerror=alert(2)>"
    calls = [f"evaluate('{n} + 1')" for n in range(12)]
    outputs = {"__original__": [hostile] * 12, "r0-t0": ["x" * 500] * 12,
               "r0-t1": [str(n + 1) for n in range(12)]}  # fmt: skip
    md, html = _reports(_with_evidence(run, behaviour=_table(calls=calls, outputs=outputs)))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "x" * 400 + "… (100 more characters)" in html  # bounded in the view too

    section = _section(md, "Behaviour")
    rows = [line for line in section.splitlines() if line.startswith("| `evaluate")]
    assert len(rows) == 8 and "4 more call(s) in report.html" in section
    cells = rows[0].strip("| ").split(" | ")
    assert cells[2] == "`" + "x" * 59 + "…`"  # cut to 60 characters
    assert cells[1].startswith("`'<script>alert(1)</script>' \\| </code>")  # a code span, one cell


def test_no_signal_says_why_without_a_table(run: Path) -> None:
    table = _table(calls=[], outputs={}, clusters=[], dropped_calls=[],
                   note="every probe call raised on the original code")  # fmt: skip
    md, html = _reports(_with_evidence(run, behaviour=table))
    assert "No behaviour signal: every probe call raised on the original code" in md
    assert "<p data-behaviour-note>No behaviour signal: every probe call raised" in html
    assert not _rows(html) and "| call |" not in md


def test_a_run_without_the_evidence_has_no_section(run: Path) -> None:
    md, html = _reports(run)
    assert "## Behaviour" not in md and "## Tournament" not in md
    assert 'id="behaviour"' not in html and 'href="#behaviour"' not in html


MALFORMED = {
    "lists-not-dicts": {"behaviour": [["r0-t0"]], "tournament": ["r0-t0"]},
    "missing-keys": {"behaviour": {"setup": "import calc", "outputs": {}},
                     "tournament": {"winner": "r0-t0", "clusters": [["r0-t0"]]}},
    "wrong-types": {"behaviour": {"calls": [1, 2], "clusters": "r0-t0"},
                    "tournament": {"matches": "many"}},
    "scalars": {"behaviour": 7, "tournament": None},
}  # fmt: skip


@pytest.mark.parametrize("evidence", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_evidence_renders_without_the_section(run: Path, evidence) -> None:
    md, html = _reports(_with_evidence(run, **evidence))
    view = build_view(run)
    assert view.behaviour is None and view.tournament is None
    assert "## Behaviour" not in md and "## Tournament" not in md and 'id="behaviour"' not in html
    assert html.rstrip().endswith("</html>") and "**Outcome:** selected r0-t0" in md


def test_damaged_parts_inside_the_evidence_show_as_absent(run: Path) -> None:
    table = _table()
    table["outputs"] = {"__original__": ["9"], "r0-t0": "not a list"}  # short, wrong type
    table["clusters"] = [["r0-t0", "r0-t2"], [], 5, ["r0-t1", 3]]
    tournament = _tournament()
    tournament["matches"] = [7, {"a": 1}, {"round": "x", "a": "r0-t0", "b": "r0-t1",
                                            "verdict": {"answers": [3, {"side": "b"}]}}]
    md, html = _reports(_with_evidence(run, behaviour=table, tournament=tournament))
    view = build_view(run)
    assert view.behaviour and [c.members for c in view.behaviour.clusters] == [
        ["r0-t0", "r0-t2"], ["r0-t1"]]  # fmt: skip
    assert view.behaviour.columns[0].outputs == ["9", None, None]
    [match] = view.tournament.matches
    assert (match.round, match.outcome, [a.said for a in match.answers]) == (
        None, "absent", ["unparsed", "behaviour 2"])  # fmt: skip
    assert "| `evaluate('10 - 4 - 3')` | `9` | absent | absent |" in md
    assert "Match 3" in md
    assert "An order: no answer → unparsed. An order: no answer → behaviour 2." in md
    assert 'data-match="3"' in html and "An order: <code>no answer</code> → unparsed" in html


@pytest.mark.slow
def test_chromium_shows_the_section_without_overflow(run: Path) -> None:
    long = {"__original__": ["9", "7", "'" + "y" * 300 + "'"], "r0-t0": ["3", "7", "2.0"],
            "r0-t1": ["9", "7", "raise ZeroDivisionError: " + "z" * 300]}  # fmt: skip
    _reports(_with_evidence(run, behaviour=_table(outputs=long), tournament=_tournament()))
    scroll = "[document.documentElement.scrollWidth, innerWidth]"
    with Chromium() as browser:
        for width in (1280, 390):
            page = browser.open(run / "report.html", width=width)
            assert page.problems == [], page.problems
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.evaluate(scroll) == [width, width]
            assert page.evaluate("document.querySelectorAll('[data-match]').length") == 2
            rows = "document.querySelectorAll('#behaviour tr[data-call]').length"
            assert page.evaluate(rows) == 3


def test_a_code_span_cannot_be_closed_by_what_it_holds() -> None:
    from quorum.report.render import code_span

    assert code_span("f(1)") == "`f(1)`"
    assert code_span("a``b`") == "``` a``b` ```"  # longest run 2: three ticks, padded
    assert code_span("x | y\nz") == "`x \\| y z`"  # one line, the table's pipe escaped
