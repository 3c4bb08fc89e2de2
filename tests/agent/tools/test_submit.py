"""`submit`: ends the trajectory by raising `Submitted` with the patch."""

from __future__ import annotations

import pytest

from agent.tools import Submitted, ToolConfig, ToolError
from sandbox.errors import QuorumError
from tests.agent.tools.conftest import Call, caller


def test_submit_raises_submitted_with_the_patch(call: Call) -> None:
    call("edit", command="str_replace", path="pkg/calc.py", old_str="a - b", new_str="a + b")
    with pytest.raises(Submitted) as done:
        call("submit", summary="  add now adds  ")
    assert done.value.summary == "add now adds"
    assert "-    return a - b\n+    return a + b" in done.value.patch
    assert isinstance(done.value, QuorumError) and not isinstance(done.value, ToolError)


def test_submit_includes_new_files_and_needs_no_summary(call: Call) -> None:
    call("edit", command="create", path="tests/test_new.py", file_text="def test_x():\n    pass\n")
    with pytest.raises(Submitted) as done:
        call("submit")
    assert done.value.summary == "" and "tests/test_new.py" in done.value.patch


def test_submit_without_changes_is_refused(call: Call) -> None:
    with pytest.raises(ToolError, match="nothing to submit: the repository has no changes yet"):
        call("submit", summary="done")


def test_submit_without_changes_when_allowed(sandbox) -> None:
    with pytest.raises(Submitted) as done:
        caller(sandbox, ToolConfig(submit_requires_changes=False))("submit")
    assert done.value.patch == ""


def test_submit_rejects_a_non_string_summary(call: Call) -> None:
    with pytest.raises(ToolError, match="argument `summary` of `submit` must be a string"):
        call("submit", summary=["a"])
