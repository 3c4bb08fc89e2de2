"""Errors of the model layer. Every SDK or HTTP failure is translated into one of these at
the client boundary, each with a message that says what happened and a hint that says what
to do. `retryable` marks the ones the client's own retry loop may try again."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sandbox.errors import QuorumError


class ModelError(QuorumError):
    """A model call failed."""

    retryable = False


class AuthError(ModelError):
    """No API key, or the endpoint refused it (401/403). Never retried."""


class BadRequest(ModelError):
    """The endpoint rejected the request as malformed (400/404/422). Never retried."""


class ContextLengthError(BadRequest):
    """The prompt plus max_tokens does not fit the model's context window. Never retried."""


class EndpointUnreachable(ModelError):
    """No answer from the endpoint (refused, dropped, timed out) after every retry."""


class RateLimited(ModelError):
    """429 after every retry."""


class ServerError(ModelError):
    """5xx after every retry."""


class BadResponse(ModelError):
    """The endpoint answered with a body that is not a chat completion."""


class UnknownPrice(QuorumError):
    """A model has no price: neither in the built-in table nor in its config."""


class BudgetExit(BaseModel):
    """The exit record of a refused call: which cap stopped it and how far it got."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str  # "run" or "trajectory:<id>"
    kind: str  # "usd" or "tokens"
    cap: float
    spent: float  # settled spend in this scope, in the cap's unit
    reserved: float  # spend reserved by calls still in flight
    needed: float  # what the smallest acceptable version of this call would cost
    caller: str
    model: str
    trajectory_id: str | None = None


class BudgetExhausted(QuorumError):
    """A call was refused before it was made because its worst case could cross a cap.

    A terminal state for a trajectory (or the run): it carries `exit`, the record of why.
    """

    def __init__(self, exit: BudgetExit) -> None:
        unit = "$" if exit.kind == "usd" else ""
        tail = "" if exit.kind == "usd" else " tokens"
        super().__init__(
            f"budget exhausted: {exit.scope} {exit.kind} cap {unit}{exit.cap:g}{tail}; "
            f"spent {unit}{exit.spent:g}{tail}, in flight {unit}{exit.reserved:g}{tail}, "
            f"this {exit.caller} call to {exit.model} needs at least {unit}{exit.needed:g}{tail}",
            hint="raise the cap in the run's budget, or lower max_tokens / prompt size",
        )
        self.exit = exit
