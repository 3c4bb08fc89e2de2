"""A small arithmetic expression calculator."""

from calc.errors import CalcError, EvalError, ParseError
from calc.evaluator import evaluate
from calc.parser import parse

__all__ = ["CalcError", "EvalError", "ParseError", "evaluate", "parse"]
