"""`edit`: str_replace uniqueness, insert, create, and a precise message for each misuse."""

from __future__ import annotations

import pytest

from agent.tools import ToolConfig, ToolError
from tests.agent.tools.conftest import CALC, Call, caller


def read(sandbox, path: str) -> str:
    return sandbox.read_file(path).decode()


# -- str_replace ------------------------------------------------------------------------------
def test_str_replace_edits_and_shows_the_region(call: Call, sandbox) -> None:
    out = call("edit", command="str_replace", path="pkg/calc.py", old_str="return a - b",
               new_str="return a + b")
    assert read(sandbox, "pkg/calc.py") == CALC.replace("a - b", "a + b")
    assert out.startswith("Edited pkg/calc.py. Lines 1-6 now read:\n   1\tdef add(a, b):\n"
                          "   2\t    return a + b\n")
    assert "Warning" not in out


def test_str_replace_snippet_is_bounded_by_context(call: Call, sandbox) -> None:
    call("bash", command="seq 1 100 > n.txt")
    out = call("edit", command="str_replace", path="n.txt", old_str="\n50\n", new_str="\nfifty\n")
    assert out.splitlines()[0] == "Edited n.txt. Lines 45-55 now read:"
    assert "  50\tfifty" in out


def test_several_matches_are_refused_with_their_lines(call: Call, sandbox) -> None:
    with pytest.raises(ToolError, match=r"old_str occurs 2 times in pkg/calc.py, starting at "
                                        r"lines 1, 5; it must occur exactly once"):
        call("edit", command="str_replace", path="pkg/calc.py", old_str="(a, b):", new_str="()")
    assert read(sandbox, "pkg/calc.py") == CALC  # unchanged


def test_no_match_shows_the_closest_text(call: Call) -> None:
    with pytest.raises(ToolError) as err:
        call("edit", command="str_replace", path="pkg/calc.py",
             old_str="def mul(a, b):\n  return a * b", new_str="x")
    message = str(err.value)
    assert message.startswith("old_str was not found in pkg/calc.py; it must match the file "
                              "exactly, whitespace and indentation included. The most similar")
    assert "lines 5-6 (" in message and "   6\t    return a * b" in message


def test_no_match_without_similar_text(call: Call) -> None:
    with pytest.raises(ToolError, match="No similar text either: view the file"):
        call("edit", command="str_replace", path="pkg/calc.py",
             old_str="class Unrelated(Exception):\n    pass", new_str="")


def test_no_match_because_line_numbers_were_copied(call: Call) -> None:
    with pytest.raises(ToolError, match="include the line numbers that `view` shows"):
        call("edit", command="str_replace", path="pkg/calc.py",
             old_str="   1\tdef add(a, b):\n   2\t    return a - b", new_str="")


@pytest.mark.parametrize(("args", "message"), [
    ({"old_str": ""}, "old_str is empty"),
    ({"old_str": "a - b", "new_str": "a - b"}, "old_str and new_str are identical"),
    ({"new_str": "x"}, "`edit` needs the argument `old_str`"),
    ({"old_str": 3}, "argument `old_str` of `edit` must be a string, got int"),
])
def test_str_replace_argument_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("edit", command="str_replace", path="pkg/calc.py", **args)


def test_str_replace_deletes_when_new_str_is_omitted(call: Call, sandbox) -> None:
    call("edit", command="str_replace", path="pkg/calc.py",
         old_str="\n\ndef mul(a, b):\n    return a * b\n")
    assert read(sandbox, "pkg/calc.py") == "def add(a, b):\n    return a - b\n"


def test_str_replace_keeps_crlf_line_endings(call: Call, sandbox) -> None:
    sandbox.write_file("win.txt", b"one\r\ntwo\r\nthree\r\n")
    call("edit", command="str_replace", path="win.txt", old_str="one\ntwo", new_str="1\n2")
    assert sandbox.read_file("win.txt") == b"1\r\n2\r\nthree\r\n"


def test_edits_keep_non_ascii_text(call: Call, sandbox) -> None:
    sandbox.write_file("greet.py", "msg = 'héllo ✓'\n".encode())
    call("edit", command="str_replace", path="greet.py", old_str="héllo", new_str="grüß")
    assert sandbox.read_file("greet.py") == "msg = 'grüß ✓'\n".encode()


def test_binary_file_is_not_edited(call: Call, sandbox) -> None:
    with pytest.raises(ToolError, match=r"logo.bin is not a UTF-8 text file"):
        call("edit", command="str_replace", path="logo.bin", old_str="PNG", new_str="GIF")
    assert sandbox.read_file("logo.bin").startswith(b"\x89PNG")


def test_missing_file(call: Call) -> None:
    with pytest.raises(ToolError, match=r"pkg/nope.py does not exist; pkg/ holds"):
        call("edit", command="str_replace", path="pkg/nope.py", old_str="a", new_str="b")
    with pytest.raises(ToolError, match="pkg is a directory, not a file"):
        call("edit", command="insert", path="pkg", insert_line=0, new_str="x")


def test_syntax_error_is_warned_not_refused(call: Call, sandbox) -> None:
    out = call("edit", command="str_replace", path="pkg/calc.py", old_str="def mul(a, b):",
               new_str="def mul(a, b:")
    assert "Warning: pkg/calc.py now has a syntax error near line 5" in out
    assert "def mul(a, b:" in read(sandbox, "pkg/calc.py")
    # Already broken before this edit: no new warning for an unrelated change.
    out = call("edit", command="str_replace", path="pkg/calc.py", old_str="a - b",
               new_str="a + b")
    assert "Warning" not in out


# -- insert -----------------------------------------------------------------------------------
def test_insert_at_top_middle_and_end(call: Call, sandbox) -> None:
    call("edit", command="insert", path="pkg/calc.py", insert_line=0, new_str='"""Calc."""\n')
    out = call("edit", command="insert", path="pkg/calc.py", insert_line=3, new_str="# end add")
    assert "   4\t# end add" in out
    call("edit", command="insert", path="pkg/calc.py", insert_line=8, new_str="# eof")
    assert read(sandbox, "pkg/calc.py").splitlines() == [
        '"""Calc."""', "def add(a, b):", "    return a - b", "# end add", "", "",
        "def mul(a, b):", "    return a * b", "# eof"]


def test_insert_after_a_last_line_without_newline(call: Call, sandbox) -> None:
    sandbox.write_file("t.txt", "a\nb")
    call("edit", command="insert", path="t.txt", insert_line=2, new_str="c")
    assert read(sandbox, "t.txt") == "a\nb\nc\n"


@pytest.mark.parametrize(("args", "message"), [
    ({"insert_line": 7, "new_str": "x"},
     r"insert_line must be between 0 \(top of file\) and 6 \(the last line of pkg/calc.py\); "
     "got 7"),
    ({"insert_line": -1, "new_str": "x"}, "got -1"),
    ({"new_str": "x"}, "`edit` needs the argument `insert_line`"),
    ({"insert_line": 1}, "`edit` needs the argument `new_str`"),
])
def test_insert_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("edit", command="insert", path="pkg/calc.py", **args)


# -- create -----------------------------------------------------------------------------------
def test_create_makes_parent_directories(call: Call, sandbox) -> None:
    out = call("edit", command="create", path="tests/new/test_calc.py",
               file_text="from pkg.calc import add\n\n\ndef test_add():\n"
                         "    assert add(1, 2) == 3\n")
    assert out == "Created tests/new/test_calc.py (5 lines)."
    assert read(sandbox, "tests/new/test_calc.py").startswith("from pkg.calc import add\n")


def test_create_refuses_to_overwrite_unless_told(call: Call, sandbox) -> None:
    with pytest.raises(ToolError, match=r"pkg/calc.py already exists: use str_replace or insert"):
        call("edit", command="create", path="pkg/calc.py", file_text="x = 1\n")
    assert read(sandbox, "pkg/calc.py") == CALC
    out = call("edit", command="create", path="pkg/calc.py", file_text="x = 1\n", overwrite=True)
    assert out == "Overwrote pkg/calc.py (1 line)."
    assert read(sandbox, "pkg/calc.py") == "x = 1\n"


def test_create_warns_about_a_syntax_error(call: Call) -> None:
    out = call("edit", command="create", path="broken.py", file_text="def f(:\n    pass\n")
    assert out.endswith("Warning: broken.py now has a syntax error near line 1; fix it "
                        "unless a further edit completes the change.")


@pytest.mark.parametrize(("args", "message"), [
    ({"path": "pkg", "file_text": ""}, "pkg is a directory"),
    ({"path": "x.py"}, "`edit` needs the argument `file_text`"),
    ({"path": "../x.py", "file_text": ""}, "outside the repository"),
    ({"path": "x.py", "file_text": "", "overwrite": "yes"}, "must be true or false"),
])
def test_create_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("edit", command="create", **args)


def test_git_internals_are_not_edited(call: Call) -> None:
    with pytest.raises(ToolError, match=r"refusing to edit inside \.git"):
        call("edit", command="create", path="./.git/hooks/pre-commit", file_text="exit 1\n")
    with pytest.raises(ToolError, match=r"refusing to edit inside \.git"):
        call("edit", command="insert", path=".git/HEAD", insert_line=0, new_str="x")


def test_files_too_large_are_left_to_bash(sandbox) -> None:
    call = caller(sandbox, ToolConfig(max_file_bytes=20))
    for tool, args in [("view", {}), ("edit", {"command": "insert", "insert_line": 0,
                                               "new_str": "x"})]:
        with pytest.raises(ToolError, match=r"pkg/calc.py is too large for this tool \(66 "
                                            r"bytes\); use bash"):
            call(tool, path="pkg/calc.py", **args)


@pytest.mark.parametrize(("args", "message"), [
    ({"path": "pkg/calc.py"}, "`edit` needs the argument `command`"),
    ({"command": "delete", "path": "pkg/calc.py"},
     "argument `command` of `edit` must be one of str_replace, insert, create; got 'delete'"),
    ({"command": "create"}, "`edit` needs the argument `path`"),
])
def test_command_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("edit", **args)
