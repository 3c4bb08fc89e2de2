"""The prompt of the distinguishing-input judge, and the strict reading of its answer.

The model sees the issue, the probe's setup and, for a few calls on which two behaviours
differ, the call and the two outputs labelled "Output 1" / "Output 2": never a patch,
never a candidate id, so neither the code's looks nor its author can sway it (S*'s
adaptive input synthesis). Issue text and outputs are untrusted: the issue is bounded and
its delimiters defused, and every output sits in a fence longer than any backtick run in
it, so an output cannot close its block and talk to the model as instructions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from selection.verifier.prompt import clip

SYSTEM = (
    "You judge which behaviour a GitHub issue asks for. Two versions of a program were "
    "run on the same calls; you see the calls on which they differ and what each version "
    "returned. An output is the repr of the returned value, `raise <Exception>: <message>` "
    "when the call raised, or `timeout`. Decide which version's outputs are the ones the "
    "issue asks for. Answer with exactly one line: ANSWER: 1, ANSWER: 2, or "
    "ANSWER: NEITHER (when neither version does what the issue asks)."
)
MAX_ISSUE, MAX_SETUP, MAX_CALL, MAX_OUTPUT = 4000, 1500, 500, 800  # characters

Answer = Literal["1", "2", "NEITHER"]

_COMMENT = re.compile(r"<!--.*?-->", re.S)  # issue templates' hidden instructions
_TAG = re.compile(r"</?\s*issue\s*>", re.I)
_BLANKS = re.compile(r"\n{3,}")
_ANSWER_LINE = re.compile(r"^\s*\**ANSWER\**\s*:\s*\**\s*(1|2|NEITHER)\b[\s.*]*$", re.I | re.M)
_BARE = re.compile(r"\s*(1|2|NEITHER)\s*\.?\s*", re.I)


def clean_issue(issue: str) -> str:
    """The issue without HTML comments, carriage returns, runs of blank lines or anything
    that would close its <issue> block; clipped to MAX_ISSUE characters."""
    text = _COMMENT.sub("", issue.replace("\r\n", "\n").replace("\r", "\n"))
    text = _TAG.sub("[issue]", text)
    return clip(_BLANKS.sub("\n\n", text).strip(), MAX_ISSUE)


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def judge_messages(
    issue: str, setup: str, shown: Sequence[tuple[str, str, str]]
) -> list[dict[str, str]]:
    """shown: (call, output 1, output 2) for each distinguishing call, in order."""
    parts = [f"<issue>\n{clean_issue(issue)}\n</issue>"]
    if setup.strip():
        parts.append(
            "Every call runs after this setup:\n" + _fenced(clip(setup.strip(), MAX_SETUP))
        )
    for n, (call, one, two) in enumerate(shown, 1):
        parts.append(
            f"Call {n}:\n{_fenced(clip(call, MAX_CALL))}\n"
            f"Output 1:\n{_fenced(clip(one, MAX_OUTPUT))}\n"
            f"Output 2:\n{_fenced(clip(two, MAX_OUTPUT))}"
        )
    parts.append(
        "Which outputs does the issue ask for: those labelled Output 1, those labelled "
        "Output 2, or neither? Answer with exactly one line: ANSWER: 1, ANSWER: 2, or "
        "ANSWER: NEITHER."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_answer(text: str | None) -> Answer | None:
    """The answer, or None unless the reply is a bare `1` / `2` / `NEITHER` or has answer
    lines that all name the same one (a reply that names two answers is no answer)."""
    text = text or ""
    if _BARE.fullmatch(text):
        return text.strip().rstrip(".").strip().upper()  # type: ignore[return-value]
    found = {m.upper() for m in _ANSWER_LINE.findall(text)}
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]
