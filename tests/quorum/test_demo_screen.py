"""The demo's last screen: at most 40 lines of 100 columns, drawn from a real run directory
(tests/fixtures/run_small) and the hidden-test grade, holding what the issue asks for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from quorum.demo import DemoGrade, final_screen
from quorum.report.screen import MAX_TEST_COLUMNS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_small"
HIDDEN = {"r0-t0": True, "r0-t1": False, "r0-t2": True, "r0-t3": False}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def _grade(run: Path, hidden: dict[str, bool] = HIDDEN) -> DemoGrade:
    selection = json.loads((run / "selection.json").read_text())
    chosen = selection.get("chosen")
    return DemoGrade(task_id="t", candidates=hidden, selected=chosen,
                     selected_passes=hidden.get(chosen) if chosen else None,
                     coverage=any(hidden.values()),
                     pass_rate=sum(hidden.values()) / len(hidden), cost_usd=0.0,
                     tokens=0, wall_s=272.0)  # fmt: skip


def _lines(screen: str) -> list[str]:
    lines = screen.splitlines()
    assert len(lines) <= 40, screen
    assert max(map(len, lines)) <= 100, screen
    return lines


def _row(lines: list[str], label: str) -> str:
    [row] = [line for line in lines if line.split()[:1] == [label]]
    return row


def test_the_screen_says_what_happened_and_why(run: Path) -> None:
    lines = _lines(final_screen(_grade(run), run))
    text = "\n".join(lines)
    assert "Selected r0-t0 with confidence 0.91 (cascade): it passes the hidden tests." in text
    # every candidate: its cluster, its generated tests, its hidden verdict
    matrix = json.loads((run / "matrix.json").read_text())
    for cand, verdict in HIDDEN.items():
        row = _row(lines, cand)
        assert row.rstrip().endswith("pass" if verdict else "FAIL"), row
        if cand in matrix["cells"]:
            marks = [("✓" if matrix["cells"][cand][t]["passed"] else "✗")
                     for t in matrix["test_ids"]]
            assert " ".join(marks) in " ".join(row.split()), (row, marks)
    assert "no patch" in _row(lines, "r0-t3")
    assert _row(lines, "r0-t0").split()[:3] == ["r0-t0", "*", "A"]
    assert "Same patch, one vote: A: r0-t0, r0-t2" in text  # merged as one fix
    # the chosen diff, its header line, the hidden-test tally, cost and where the report is
    patch = json.loads((run / "candidates.jsonl").read_text().splitlines()[0])["patch"]
    added = next(line for line in patch.splitlines() if line.startswith("+ "))
    assert f"  {added}" in lines
    assert "2 of 4 candidates pass the hidden tests (pass@1 0.50)." in text
    total = json.loads((run / "cost.json").read_text())["total"]
    prompt, generated = total["prompt_tokens"], total["completion_tokens"]
    assert (f"Time 4 min 32 s, {prompt + generated:,} tokens ({prompt:,} prompt, "
            f"{generated:,} generated)") in text
    assert lines[-1] == f"Report: {run / 'report.html'}"


def test_a_long_diff_is_cut_to_fit_and_says_how_much_is_left(run: Path) -> None:
    path = run / "candidates.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    body = "".join(f"+line {i}\n" for i in range(200))
    records[0]["patch"] = ("diff --git a/big.py b/big.py\nnew file mode 100644\n"
                           "--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,200 @@\n" + body)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    lines = _lines(final_screen(_grade(run), run))
    assert len(lines) == 40  # the diff takes what the rest leaves
    shown = [line for line in lines if line.startswith("  +line ")]
    [note] = [line for line in lines if "more lines in the report" in line]
    left = int(note.split()[1])
    # what is shown and what is left add up to the diff (its two header lines not counted)
    assert len(shown) + left + 3 == 203 and shown[0] == "  +line 0"
    assert lines[-1].startswith("Report: ")


def test_many_generated_tests_are_counted_beyond_the_columns_that_fit(run: Path) -> None:
    path = run / "matrix.json"
    matrix = json.loads(path.read_text())
    for k in range(25):
        matrix["test_ids"].append(f"extra{k}")
        for cand in matrix["candidate_ids"]:
            matrix["cells"][cand][f"extra{k}"] = {"passed": cand != "__original__",
                                                  "exit_code": 0, "timed_out": False,
                                                  "duration_s": 0.0, "error": ""}
    path.write_text(json.dumps(matrix))
    lines = _lines(final_screen(_grade(run), run))
    header = next(line for line in lines if line.startswith("candidate"))
    total = 28 + 1  # the fixture's three and one quarantined, and these
    assert f"G{MAX_TEST_COLUMNS} +{total - MAX_TEST_COLUMNS} repo" in " ".join(header.split())


def test_an_abstention_is_said_plainly(run: Path) -> None:
    path = run / "selection.json"
    selection = json.loads(path.read_text())
    selection.update(chosen=None, abstained=True)
    path.write_text(json.dumps(selection))
    lines = _lines(final_screen(_grade(run), run))
    assert lines[1] == "Quorum abstained: the evidence did not single out a patch."
    assert not any("'s patch (" in line for line in lines)


def test_the_models_time_is_split_where_it_was_measured(run: Path) -> None:
    from agent.llm.embedded_perf import ModelTime

    grade = _grade(run).model_copy(update={"model_time": ModelTime(
        requests=27, prompt_tokens_evaluated=9_000, prompt_s=400.0, generated_tokens=1_400,
        generation_s=200.0)})  # fmt: skip
    lines = _lines(final_screen(grade, run))
    assert ("Model busy 10 min 00 s: 6 min 40 s on 9,000 prompt tokens (the rest reused), "
            "3 min 20 s writing.") in lines
    assert lines[-1].startswith("Report: ")
