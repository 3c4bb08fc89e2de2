"""`view`: numbered files and ranges, directory listings, and each refusal."""

from __future__ import annotations

import pytest

from agent.tools import ToolConfig, ToolError
from tests.agent.tools.conftest import Call, caller


def test_file_with_line_numbers(call: Call) -> None:
    out = call("view", path="pkg/calc.py")
    assert out.splitlines()[:3] == ["pkg/calc.py, lines 1-6 of 6:",
                                    "   1\tdef add(a, b):", "   2\t    return a - b"]


def test_line_range_and_end_of_file(call: Call) -> None:
    assert call("view", path="pkg/calc.py", start_line=5, end_line=6).splitlines() == [
        "pkg/calc.py, lines 5-6 of 6:", "   5\tdef mul(a, b):", "   6\t    return a * b"]
    assert call("view", path="pkg/calc.py", start_line=6, end_line=-1).endswith(
        "6\t    return a * b")
    assert call("view", path="./pkg/../pkg/calc.py", start_line=2).startswith(
        "pkg/calc.py, lines 2-6 of 6:")


def test_end_past_the_end_is_clamped_with_a_note(call: Call) -> None:
    out = call("view", path="pkg/calc.py", start_line=4, end_line=99)
    assert out.startswith("pkg/calc.py, lines 4-6 of 6 (end_line 99 is past the end; the "
                          "file has 6 lines):")


def test_absolute_paths_inside_the_workspace(sandbox) -> None:
    out = caller(sandbox)("view", path=f"{sandbox.workspace}/pkg/calc.py", start_line=1,
                          end_line=1)
    assert out == "pkg/calc.py, lines 1-1 of 6:\n   1\tdef add(a, b):"


@pytest.mark.parametrize(("args", "message"), [
    ({"start_line": 7}, "start_line 7 is past the end of pkg/calc.py, which has 6 lines"),
    ({"start_line": 0}, "start_line must be 1 or more, got 0"),
    ({"start_line": 4, "end_line": 2}, "end_line 2 is before start_line 4"),
    ({"start_line": "two"}, "argument `start_line` of `view` must be an integer"),
])
def test_range_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("view", path="pkg/calc.py", **args)


def test_missing_file_names_what_the_directory_holds(call: Call) -> None:
    with pytest.raises(ToolError, match=r"pkg/calc2.py does not exist; pkg/ holds: "
                                        r"__init__.py, calc.py, sub"):
        call("view", path="pkg/calc2.py")
    with pytest.raises(ToolError, match=r"nowhere/x.py does not exist; ./ holds: .*README.md"):
        call("view", path="nowhere/x.py")


def test_directory_lists_two_levels_without_git(call: Call) -> None:
    out = call("view", path=".")
    lines = out.splitlines()
    assert lines[0].endswith("entries in the repository root (up to 2 levels deep):")
    assert {"README.md", "pkg/", "pkg/calc.py", "pkg/sub/", "src/", "src/cart.js"} <= set(lines)
    assert not any(line.startswith(".git") for line in lines)
    assert "pkg/sub/deep/" not in lines  # depth 3
    assert call("view", path="pkg/sub").splitlines()[1:] == ["deep/", "deep/hidden.txt"]


def test_empty_directory_and_empty_file(call: Call) -> None:
    call("bash", command="mkdir empty && touch empty.txt")
    assert call("view", path="empty") == "empty/ is empty."
    assert call("view", path="empty.txt") == "empty.txt is empty."
    with pytest.raises(ToolError, match=r"empty.txt is empty: it has no lines"):
        call("view", path="empty.txt", start_line=3)


def test_range_on_a_directory_is_refused(call: Call) -> None:
    with pytest.raises(ToolError, match="pkg is a directory: line ranges apply to files only"):
        call("view", path="pkg", start_line=1)


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../x"])
def test_paths_outside_the_repository(call: Call, path: str) -> None:
    with pytest.raises(ToolError, match="is outside the repository"):
        call("view", path=path)


def test_symlink_out_of_the_repository(call: Call) -> None:
    call("bash", command="ln -s /etc/hostname escape")
    with pytest.raises(ToolError, match="resolves \\(through a symlink\\) to outside"):
        call("view", path="escape")


def test_binary_file_is_refused_clearly(call: Call) -> None:
    with pytest.raises(ToolError, match=r"logo.bin is not a UTF-8 text file \(undecodable "
                                        r"byte at offset 0\); inspect it with bash"):
        call("view", path="logo.bin")


def test_long_file_is_truncated_with_a_hint(sandbox) -> None:
    call = caller(sandbox, ToolConfig(max_observation_chars=500))
    call("bash", command="seq 1 1000 > numbers.txt")
    out = call("view", path="numbers.txt")
    assert out.startswith("numbers.txt, lines 1-1000 of 1000:\n   1\t1\n")
    assert out.endswith("1000\t1000")
    assert "view a smaller range with start_line/end_line" in out


def test_missing_path_argument(call: Call) -> None:
    with pytest.raises(ToolError, match="`view` needs the argument `path`"):
        call("view")
    with pytest.raises(ToolError, match="must be a string, got list"):
        call("view", path=["a"])
