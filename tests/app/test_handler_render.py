"""The pull request body and the abstention comment: report.md's view, bounded, redacted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from quorum.report.render import GITHUB_BODY_LIMIT, render_abstention_comment, render_pr_body
from quorum.report.view import build_view

RUN = Path(__file__).parents[1] / "fixtures" / "run_small"


def _copy(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    return run


def _edit_selection(run: Path, **changes: object) -> None:
    path = run / "selection.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_the_body_carries_the_grid_clusters_scores_and_cost() -> None:
    body = render_pr_body(build_view(RUN), note="$9.99 left this month.")
    assert "## Quorum: r0-t0 selected among 4 candidates" in body
    assert "| **r0-t0** ✓ | A | ✅ | ✅ | ✅ | 🔸 | 0 of 35 | 0.90 | 0.93 |" in body
    assert "| r0-t1 | B | ✅ | ❌ | ❌ | 🔸 | 3 of 35 | 0.35 | 0.52 |" in body
    assert "| unpatched | — | ❌ | ❌ | ✅ | 🔸 |" in body
    assert "| A ✓ | 2 of 4 | r0-t0, r0-t2 | 2/2 |" in body
    assert "confidence **0.91**" in body and "**Why:** r0-t0 ranks first" in body
    assert "$0.0088 of this job's $0.25 cap (4%)" in body and "$9.99 left this month." in body
    assert "http" not in body  # links to nothing outside


def test_an_abstention_says_so_with_the_same_evidence(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    _edit_selection(run, chosen=None, confidence=0.3, rationale="The evidence is split.")
    text = render_abstention_comment(build_view(run))
    assert text.startswith("## Quorum abstained: no patch is proposed")
    assert "abstained (confidence 0.30" in text and "The evidence is split." in text
    assert "| r0-t0 | A | ✅ | ✅ |" in text and "✓" not in text.split("### Cost")[0]


def test_secrets_are_redacted_and_the_body_fits_github(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    token = "ghs_" + "A1b2" * 9
    _edit_selection(run, rationale=f"token {token} " + "x" * 100_000)
    body = render_pr_body(build_view(run), note=f"note ghp_{'z' * 36}")
    assert token not in body and "ghp_" not in body and "[REDACTED]" in body
    assert len(body) <= GITHUB_BODY_LIMIT and body.endswith("holds the whole evidence]\n")


def test_a_tall_grid_loses_rows_before_it_is_cut(tmp_path: Path) -> None:
    run = _copy(tmp_path)
    lines = (run / "candidates.jsonl").read_text().splitlines()
    base = json.loads(lines[1])  # r0-t1: a solver with a patch
    matrix = json.loads((run / "matrix.json").read_text())
    extra = []
    for i in range(400):
        cand = {**base, "id": f"x{i}", "patch": base["patch"] + f"\n# {i}\n"}
        extra.append(json.dumps(cand))
        matrix["cells"][f"x{i}"] = matrix["cells"]["r0-t1"]
        matrix["candidate_ids"].append(f"x{i}")
    (run / "candidates.jsonl").write_text("\n".join(lines + extra) + "\n")
    (run / "matrix.json").write_text(json.dumps(matrix))
    body = render_pr_body(build_view(run), limit=20_000)
    assert len(body) <= 20_000 and "more row(s) in the run's report" in body
    assert "| **r0-t0** ✓ |" in body  # the chosen row is among those kept
    assert "| A ✓ | 2 of 404 |" in body and "more cluster(s)" in body
