"""Mending a reproduction test's imports from pytest's own errors, on the errors the
embedded model's tests really raised in the timesheet demo runs, and in the pipeline: a
mended test counts without another model call; one that fails on a name nobody defines
does not count as reproducing the issue."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from agent.agentless import AgentlessConfig
from agent.agentless.repro_imports import (
    ModuleNames,
    import_lines,
    index,
    mend,
    module_name,
    top_level_names,
)
from envs.sources.local import task_from_local
from tests.agent.agentless.test_pipeline import _run, fix
from tests.helpers.openai_standin import Reply
from tests.sandbox.conftest import make_repo

REPORT = '''"""Totals."""
from timesheet.entries import Entry

WIDTH: int = 8
SEP = "   "


def format_minutes(minutes):
    return f"{minutes}"


def render(entries):
    return ""


class _Hidden:
    pass
'''
ENTRIES = "from dataclasses import dataclass\n\n\n@dataclass\nclass Entry:\n    task: str\n\n\n" \
          "def parse_entries(text):\n    return []\n"  # fmt: skip
MODULES = index(
    [("timesheet/report.py", REPORT), ("timesheet/entries.py", ENTRIES),
     ("timesheet/__init__.py", "from timesheet.report import format_minutes\n"),
     ("src/other/render.py", "def render():\n    pass\n"), ("README.md", "")],
    shown=["timesheet/report.py", "timesheet/entries.py"],
)  # fmt: skip


def test_module_names_follow_the_import_path() -> None:
    assert module_name("timesheet/report.py") == "timesheet.report"
    assert module_name("timesheet/__init__.py") == "timesheet"
    assert module_name("src/other/render.py") == "other.render"
    assert module_name("README.md") is None and module_name("my-scripts/x.py") is None


def test_top_level_names_are_definitions_not_imports() -> None:
    assert top_level_names(REPORT) == ["WIDTH", "SEP", "format_minutes", "render", "_Hidden"]
    assert top_level_names("def broken(:\n") == []


def test_import_lines_offer_the_public_names_of_shown_modules() -> None:
    assert import_lines(MODULES) == (
        "from timesheet.report import WIDTH, SEP, format_minutes, render\n"
        "from timesheet.entries import Entry, parse_entries"
    )


def test_a_name_imported_from_the_wrong_module_is_moved() -> None:
    code = "import pytest\nfrom timesheet import parse_entries, render\n\n\ndef test_x():\n" \
           "    assert render(parse_entries('')) == ''\n"  # fmt: skip
    output = "E   ImportError: cannot import name 'render' from 'timesheet' (/w/timesheet/x.py)"
    mended, added = mend(code, output, MODULES)
    # shown modules win over src/other/render.py, which defines a render too
    assert added == ["from timesheet.report import render"]
    assert mended.split("\n")[:3] == [
        "import pytest",
        "from timesheet import parse_entries",
        "from timesheet.report import render",
    ]
    ast.parse(mended)


def test_every_missing_name_is_imported_at_once() -> None:
    code = '"""Doc."""\nfrom timesheet.report import render\n\n\ndef test_x():\n' \
           "    with pytest.raises(ValueError):\n        render([Entry('a')])\n"  # fmt: skip
    output = ("E       NameError: name 'Entry' is not defined\n"
              "E       NameError: name 'pytest' is not defined\n"
              "E       NameError: name 'nowhere' is not defined\n")  # fmt: skip
    mended, added = mend(code, output, MODULES)
    assert added == ["from timesheet.entries import Entry", "import pytest"]
    assert mended.split("\n")[:4] == [
        '"""Doc."""',
        "from timesheet.report import render",
        "from timesheet.entries import Entry",
        "import pytest",
    ]


def test_a_module_that_does_not_exist_is_replaced_when_its_names_are_found() -> None:
    code = "from report import format_minutes\n\n\ndef test_x():\n    assert format_minutes(5)\n"
    mended, added = mend(code, "E   ModuleNotFoundError: No module named 'report'", MODULES)
    assert added == ["from timesheet.report import format_minutes"]
    assert "from report" not in mended


def test_nothing_is_touched_without_a_known_definer() -> None:
    code = "from timesheet import render\n\n\ndef test_x():\n    render()\n"
    ambiguous = [ModuleNames("a", ("render",), False), ModuleNames("b", ("render",), False)]
    output = "E   ImportError: cannot import name 'render' from 'timesheet'"
    assert mend(code, output, ambiguous) == (code, [])
    assert mend(code, "E   AssertionError", MODULES) == (code, [])
    assert mend("def broken(:", output, MODULES) == ("def broken(:", [])


def test_a_mended_test_runs_for_real(tmp_path: Path) -> None:
    pkg = tmp_path / "timesheet"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "report.py").write_text("def format_minutes(m):\n    return f'{m // 60}:{m % 60}'\n")
    code = "from timesheet import format_minutes\n\n\ndef test_pad():\n" \
           "    assert format_minutes(65) == '1:05'\n"  # fmt: skip
    report = ("timesheet/report.py", (pkg / "report.py").read_text())
    modules = index([report], ["timesheet/report.py"])

    def run(text: str) -> subprocess.CompletedProcess:
        (tmp_path / "test_repro_issue.py").write_text(text)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_repro_issue.py"]  # fmt: skip
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)

    first = run(code)
    assert first.returncode == 2
    mended, added = mend(code, first.stdout, modules)
    assert added == ["from timesheet.report import format_minutes"]
    second = run(mended)
    assert second.returncode == 1 and "assert '1:5' == '1:05'" in second.stdout


def _task_with_exports(tmp_path: Path):
    """The stand-in repository, whose package exports nothing: `from pkg import add` fails."""
    return task_from_local(make_repo(tmp_path / "repo"), issue="add(1, 2) returns -1 instead of 3.")


def test_the_pipeline_mends_a_wrong_import_without_asking_again(tmp_path: Path) -> None:
    task = _task_with_exports(tmp_path)
    wrong = Reply.text(
        "```python\nfrom pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n```"
    )
    traj, diff, requests = _run(task, tmp_path, Reply.text("pkg/calc.py"), wrong,
                                fix("return a + b"))  # fmt: skip
    repro = [s for s in traj.steps if s.tool == "reproduce"]
    assert len(repro) == 1 and "fails on the original code" in repro[0].observation
    assert repro[0].args["imports_added"] == ["from pkg.calc import add"]
    assert "+from pkg.calc import add" in diff and "+    return a + b" in diff
    assert len(requests) == 3  # localise, reproduce, repair: no second reproduction call
    assert "from pkg.calc import add" in requests[1]["messages"][1]["content"]  # offered


def test_a_test_failing_on_its_own_undefined_name_does_not_reproduce(tmp_path: Path) -> None:
    task = _task_with_exports(tmp_path)
    broken = Reply.text("```python\ndef test_add():\n    assert adder(1, 2) == 3\n```")
    traj, diff, _ = _run(task, tmp_path, Reply.text("pkg/calc.py"), broken, broken,
                         fix("return a + b"), config=AgentlessConfig(repro_attempts=2))  # fmt: skip
    repro = [s for s in traj.steps if s.tool == "reproduce"]
    assert len(repro) == 2
    assert all("fails on a name the test never defines" in s.observation for s in repro)
    assert "test_repro_issue.py" not in diff and "+    return a + b" in diff
