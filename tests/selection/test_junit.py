"""The one JUnit reader, on a report pytest itself writes: a skipped reproduction test fails
its file; a skipped repository test is left out of the regression outcomes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from selection.junit import file_outcomes, node_outcomes, parse_report, read_cases


def test_skipped_reads_as_not_shown_for_repro_and_as_nothing_for_regressions(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_mixed.py").write_text(
        "import pytest\n\n"
        "def test_ok():\n    pass\n\n"
        "def test_bad():\n    assert False\n\n"
        "@pytest.mark.skip(reason='optional dependency')\n"
        "def test_skipped():\n    pass\n"
    )
    (tmp_path / "test_only_skips.py").write_text(
        "import pytest\n\n@pytest.mark.skip\ndef test_s():\n    pass\n"
    )
    (tmp_path / "test_fine.py").write_text("def test_a():\n    pass\n")
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={report}", "test_mixed.py", "test_only_skips.py",
                    "test_fine.py"], cwd=tmp_path, capture_output=True)  # fmt: skip
    root = parse_report(report.read_bytes())
    outcomes = {c.node: c.outcome for c in read_cases(root)}
    assert outcomes == {
        "test_mixed::test_ok": "passed", "test_mixed::test_bad": "failed",
        "test_mixed::test_skipped": "skipped", "test_only_skips::test_s": "skipped",
        "test_fine::test_a": "passed",
    }  # fmt: skip
    files = {path: ok for path, (ok, _s) in file_outcomes(root).items()}
    assert files == {"test_mixed.py": False, "test_only_skips.py": False, "test_fine.py": True}
    assert node_outcomes(root) == {
        "test_mixed::test_ok": True, "test_mixed::test_bad": False, "test_fine::test_a": True,
    }  # fmt: skip
