"""Which webhook deliveries start a job: the label `quorum` on an issue, a comment
`/quorum solve [-n N] [--budget-usd X]` on an issue, `/quorum fix` on a pull request.

`trigger_from_event` never raises, whatever the payload: it reads each field with its type
checked and answers None for anything else. A comment addressed to Quorum (its first line
starts with `/quorum`) whose command or options are wrong still gives a Trigger, with
`usage_error` set to the plain reason: the handler answers it with one polite usage comment
instead of running anything. Bot senders are marked (`sender_is_bot`), not dropped, so the
handler decides (it ignores them) and the delivery is on record.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

LABEL = "quorum"
COMMAND = "/quorum"
MAX_N = 64  # trajectories one comment may ask for; the repository's config may lower it
MAX_BUDGET_USD = 10_000.0  # a typo guard; the installation's monthly cap is the real limit
USAGE = (
    "usage: `/quorum solve [-n N] [--budget-usd X]` on an issue, `/quorum fix` on a pull "
    f"request (N from 1 to {MAX_N}, X a positive number of dollars)"
)


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["solve", "fix"]
    installation_id: int
    repo: str  # "owner/name"
    number: int
    sender: str
    sender_type: str  # "User" | "Bot" | "Organization" | ...
    comment_id: int | None = None
    n: int | None = None
    budget_usd: float | None = None
    via: Literal["label", "comment"]
    sender_is_bot: bool = False
    usage_error: str = ""  # set: answer with USAGE and this reason, run nothing


def trigger_from_event(event: str, payload: Any) -> Trigger | None:
    """The job a delivery asks for, or None (not for us). Never raises."""
    try:
        return _trigger(event, payload)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # A payload shape the typed reads did not foresee: a bug of ours, never the
        # sender's; it is logged (type only, never the payload) and the delivery ignored.
        log.warning("ignoring a %s delivery this code cannot read (%s)", event,
                    type(exc).__name__)  # fmt: skip
        return None


def _trigger(event: Any, payload: Any) -> Trigger | None:
    if not isinstance(payload, dict) or not isinstance(event, str):
        return None
    if event == "issues" and payload.get("action") == "labeled":
        label = _get(payload, "label", "name", kind=str)
        if label is None or label.casefold() != LABEL:
            return None
        return _build(payload, kind="solve", via="label")
    if event == "issue_comment" and payload.get("action") == "created":
        body = _get(payload, "comment", "body", kind=str)
        comment_id = _get(payload, "comment", "id", kind=int)
        if body is None or comment_id is None:
            return None
        words = _first_line(body).split()
        if not words or words[0].casefold() != COMMAND:
            return None
        issue = payload.get("issue")
        is_pull = isinstance(issue, dict) and issue.get("pull_request") is not None
        kind: Literal["solve", "fix"] = "fix" if is_pull else "solve"
        n, budget, error = _parse_command(words[1:], is_pull)
        return _build(payload, kind=kind, via="comment", comment_id=comment_id, n=n,
                      budget_usd=budget, usage_error=error)  # fmt: skip
    return None


def _build(payload: dict[str, Any], **fields: Any) -> Trigger | None:
    installation_id = _get(payload, "installation", "id", kind=int)
    repo = _get(payload, "repository", "full_name", kind=str)
    number = _get(payload, "issue", "number", kind=int)
    sender = _get(payload, "sender", "login", kind=str)
    sender_type = _get(payload, "sender", "type", kind=str) or ""
    if installation_id is None or number is None or sender is None or repo is None:
        return None
    if repo.count("/") != 1 or not all(repo.split("/")):
        return None
    is_bot = sender_type.casefold() == "bot" or sender.casefold().endswith("[bot]")
    return Trigger(installation_id=installation_id, repo=repo, number=number, sender=sender,
                   sender_type=sender_type, sender_is_bot=is_bot, **fields)  # fmt: skip


def _parse_command(words: list[str], is_pull: bool) -> tuple[int | None, float | None, str]:
    """(n, budget_usd, usage error or "") from the words after `/quorum`."""
    if not words:
        return None, None, "no command given"
    command, options = words[0].casefold(), words[1:]
    if command == "fix":
        if not is_pull:
            return None, None, "`/quorum fix` works on a pull request; on an issue use solve"
        if options:
            return None, None, f"`/quorum fix` takes no options (got `{options[0]}`)"
        return None, None, ""
    if command != "solve":
        return None, None, f"unknown command `{words[0][:40]}`"
    if is_pull:
        return None, None, "`/quorum solve` works on an issue; on a pull request use fix"
    n: int | None = None
    budget: float | None = None
    values = iter(_split_equals(options))
    for option in values:
        value = next(values, None)
        if option == "-n":
            whole = value is not None and value.isascii() and value.isdigit()
            if not whole or not 1 <= int(value) <= MAX_N:
                return None, None, f"-n wants a whole number from 1 to {MAX_N}"
            n = int(value)
        elif option == "--budget-usd":
            amount = _positive_float(value)
            if amount is None:
                return None, None, (
                    f"--budget-usd wants a number of dollars above 0 and at most "
                    f"{MAX_BUDGET_USD:g}")
            budget = amount
        else:
            return None, None, f"unknown option `{option[:40]}`"
    return n, budget, ""


def _split_equals(options: list[str]) -> list[str]:
    """`--budget-usd=3` and `-n=4` as two words each."""
    out: list[str] = []
    for word in options:
        if word.startswith("-") and "=" in word:
            out += word.split("=", 1)
        else:
            out.append(word)
    return out


def _positive_float(value: str | None) -> float | None:
    if value is None or len(value) > 32:
        return None
    try:
        amount = float(value.removeprefix("$"))
    except ValueError:
        return None
    return amount if math.isfinite(amount) and 0 < amount <= MAX_BUDGET_USD else None


def _first_line(body: str) -> str:
    stripped = body.lstrip()
    return stripped.splitlines()[0] if stripped else ""


def _get(payload: dict[str, Any], outer: str, inner: str, *, kind: type) -> Any:
    """payload[outer][inner] if it is a `kind` (a bool is not an int), else None."""
    holder = payload.get(outer)
    if not isinstance(holder, dict):
        return None
    value = holder.get(inner)
    if kind is int:
        # GitHub ids fit 53 bits; a bool is not an id.
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53
        return value if ok else None
    if not isinstance(value, str) or not _utf8(value):
        return None
    return value


def _utf8(text: str) -> bool:
    """JSON may carry lone surrogates ("\\ud800"); such text cannot be stored or sent."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
