"""Scripted trajectories for the stand-in server: what a capable model would do."""

from __future__ import annotations

from tests.helpers.openai_standin import Reply

RUN_TEST = {"command": "python -m pytest -q -p no:cacheprovider test_repro_issue.py"}


def fix_script(test: str, path: str, old: str, new: str, summary: str = "fixed") -> list[Reply]:
    """Write a reproduction test, run it, replace `old` with `new` in `path`, run the test
    again, submit."""
    return [
        Reply.tool_call(
            "edit",
            {"command": "create", "path": "test_repro_issue.py", "file_text": test},
            call_id="c1",
        ),
        Reply.tool_call("bash", RUN_TEST, call_id="c2"),
        Reply.tool_call(
            "edit",
            {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
            call_id="c3",
        ),
        Reply.tool_call("bash", RUN_TEST, call_id="c4"),
        Reply.tool_call("submit", {"summary": summary}, call_id="c5"),
    ]


def solver_script(test_body: str, fix: str) -> list[Reply]:
    """The same for pkg/calc.py's `add`, which returns a - b."""
    test = f"from pkg.calc import add\n\n\ndef test_issue():\n    assert {test_body}\n"
    return fix_script(test, "pkg/calc.py", "return a - b", f"return {fix}",
                      summary=f"add returns {fix}")  # fmt: skip


def writer_script(test_body: str) -> list[Reply]:
    test = f"from pkg.calc import add\n\n\ndef test_issue():\n    assert {test_body}\n"
    return [
        Reply.tool_call(
            "edit",
            {"command": "create", "path": "test_repro_issue.py", "file_text": test},
            call_id="w1",
        ),
        Reply.tool_call("bash", RUN_TEST, call_id="w2"),
        Reply.tool_call("submit", {"summary": "test written"}, call_id="w3"),
    ]
