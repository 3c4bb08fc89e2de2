"""The operator table: how tightly each operator binds, how chains of it group, what it does."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

from calc.errors import EvalError


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise EvalError("division by zero")
    return a / b


def _floor_divide(a: float, b: float) -> float:
    if b == 0:
        raise EvalError("division by zero")
    return a // b


def _modulo(a: float, b: float) -> float:
    if b == 0:
        raise EvalError("modulo by zero")
    return a % b


def _power(a: float, b: float) -> float:
    if a == 0 and b < 0:
        raise EvalError("zero cannot be raised to a negative power")
    return a**b


@dataclass(frozen=True)
class BinaryOperator:
    symbol: str
    precedence: int  # higher binds tighter
    apply: Callable[[float, float], float]
    right_assoc: bool = False  # True: a op b op c groups as a op (b op c)


BINARY: dict[str, BinaryOperator] = {
    op.symbol: op
    for op in (
        BinaryOperator("+", 10, operator.add),
        BinaryOperator("-", 10, operator.sub),
        BinaryOperator("*", 20, operator.mul),
        BinaryOperator("/", 20, _divide),
        BinaryOperator("//", 20, _floor_divide),
        BinaryOperator("%", 20, _modulo),
        BinaryOperator("**", 30, _power),
    )
}

# Unary minus binds looser than ** (-2 ** 2 is -4, as in Python) and tighter than * and /.
UNARY_PRECEDENCE = 25
UNARY: dict[str, Callable[[float], float]] = {"-": operator.neg, "+": operator.pos}

FUNCTIONS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sqrt": math.sqrt,
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
