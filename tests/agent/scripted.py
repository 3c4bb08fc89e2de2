"""Scripted trajectories for the stand-in server: what a capable model would do."""

from __future__ import annotations

from tests.helpers.openai_standin import Reply

RUN_TEST = {"command": "python -m pytest -q -p no:cacheprovider test_repro_issue.py"}


def solver_script(test_body: str, fix: str) -> list[Reply]:
    """Write a reproduction test, run it, fix pkg/calc.py, run it again, submit."""
    test = f"from pkg.calc import add\n\n\ndef test_issue():\n    assert {test_body}\n"
    return [
        Reply.tool_call(
            "edit",
            {"command": "create", "path": "test_repro_issue.py", "file_text": test},
            call_id="c1",
        ),
        Reply.tool_call("bash", RUN_TEST, call_id="c2"),
        Reply.tool_call(
            "edit",
            {
                "command": "str_replace",
                "path": "pkg/calc.py",
                "old_str": "return a - b",
                "new_str": f"return {fix}",
            },
            call_id="c3",
        ),
        Reply.tool_call("bash", RUN_TEST, call_id="c4"),
        Reply.tool_call("submit", {"summary": f"add returns {fix}"}, call_id="c5"),
    ]


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
