"""Errors raised by calc. Every error a user can cause is a CalcError."""


class CalcError(Exception):
    """Base class of calc's errors."""


class ParseError(CalcError):
    """The expression is not well formed. `pos` is the offset of the offending character."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at position {pos}")
        self.pos = pos


class EvalError(CalcError):
    """The expression is well formed but cannot be computed (unknown name, division by 0)."""
