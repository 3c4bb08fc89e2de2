"""Localisation also shows what the picked files import: in the bundled example the issue's
symptom is in the parser and its cause in the operator table the parser imports."""

from __future__ import annotations

from pathlib import Path

from agent.agentless.repomap import FileEntry, RepoMap, imported_sources, with_imported
from agent.tools.treesitter.parse import definitions

CALC = Path(__file__).resolve().parents[3] / "examples" / "calc"


def _calc_map() -> RepoMap:
    files = []
    for path in sorted(CALC.rglob("*.py")):
        rel, data = path.relative_to(CALC).as_posix(), path.read_bytes()
        files.append(FileEntry(rel, data.decode(), definitions(rel, data) or []))
    return RepoMap(files)


def test_imports_resolve_to_files_of_the_map() -> None:
    found = imported_sources(_calc_map(), "calc/parser.py")
    assert {"calc/tokens.py", "calc/operators.py", "calc/errors.py", "calc/nodes.py"} <= set(found)
    assert "calc/parser.py" not in found


def test_relative_imports_resolve(tmp_path: Path) -> None:
    repo = RepoMap([FileEntry("pkg/a.py", "from . import b\nfrom .sub.c import f\n"),
                    FileEntry("pkg/b.py", "x = 1\n"), FileEntry("pkg/sub/c.py", "def f(): ...\n")])
    assert imported_sources(repo, "pkg/a.py") == ["pkg/b.py", "pkg/sub/c.py"]


def test_the_imported_file_most_about_the_issue_is_added() -> None:
    issue = (CALC / "ISSUE.md").read_text()
    repo = _calc_map()
    assert with_imported(repo, ["calc/parser.py", "calc/evaluator.py"], issue, 1) == [
        "calc/operators.py"
    ]
    assert "calc/operators.py" in with_imported(repo, ["calc/cli.py", "calc/parser.py"], issue, 2)
    assert with_imported(repo, ["calc/parser.py"], issue, 0) == []
