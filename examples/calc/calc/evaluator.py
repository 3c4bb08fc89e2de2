"""Compute the value of an expression tree."""

from __future__ import annotations

from collections.abc import Mapping

from calc.errors import EvalError
from calc.nodes import BinOp, Call, Node, Num, Unary, Var
from calc.operators import BINARY, CONSTANTS, FUNCTIONS, UNARY
from calc.parser import parse


def evaluate(expression: str | Node, variables: Mapping[str, float] | None = None) -> float:
    """Evaluate `expression` (text or an already parsed tree) with optional variables.

    Variables shadow the constants `pi` and `e`."""
    node = parse(expression) if isinstance(expression, str) else expression
    scope = {**CONSTANTS, **(variables or {})}
    return _eval(node, scope)


def _eval(node: Node, scope: Mapping[str, float]) -> float:
    match node:
        case Num(value):
            return value
        case Var(name):
            if name not in scope:
                raise EvalError(f"unknown variable {name!r}")
            return scope[name]
        case Unary(op, operand):
            return UNARY[op](_eval(operand, scope))
        case BinOp(op, left, right):
            return BINARY[op].apply(_eval(left, scope), _eval(right, scope))
        case Call(func, args):
            if func not in FUNCTIONS:
                raise EvalError(f"unknown function {func!r}")
            values = [_eval(arg, scope) for arg in args]
            try:
                return FUNCTIONS[func](*values)
            except (TypeError, ValueError) as exc:
                raise EvalError(f"{func}: {exc}") from exc
    raise EvalError(f"cannot evaluate {node!r}")
