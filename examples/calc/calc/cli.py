"""The command line: python -m calc EXPRESSION [--var NAME=VALUE ...]."""

from __future__ import annotations

import argparse
import sys

from calc.errors import CalcError
from calc.evaluator import evaluate


def format_number(value: float) -> str:
    """Whole numbers without a trailing .0; other floats as Python writes them."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _variable(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calc", description="Evaluate an expression.")
    parser.add_argument("expression")
    parser.add_argument("--var", action="append", type=_variable, default=[],
                        metavar="NAME=VALUE", help="define a variable (repeatable)")
    args = parser.parse_args(argv)
    try:
        value = evaluate(args.expression, dict(args.var))
    except CalcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_number(value))
    return 0
