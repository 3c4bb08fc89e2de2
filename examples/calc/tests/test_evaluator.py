import math

import pytest

from calc import EvalError, evaluate


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("2 ** 10", 1024),
        ("-3 + 5", 2),
        ("max(3, 4) // 2", 2),
        ("abs(-2.5)", 2.5),
    ],
    ids=["precedence", "parentheses", "subtraction-chain", "floor-division", "modulo", "power",
         "unary-minus", "function-call", "abs"],
)
def test_arithmetic(source, expected):
    assert evaluate(source) == expected


def test_variables_and_constants():
    assert evaluate("r ** 2 * pi", {"r": 2}) == pytest.approx(4 * math.pi)


def test_variables_shadow_constants():
    assert evaluate("e + 1", {"e": 1}) == 2


@pytest.mark.parametrize("source", ["1 / 0", "1 // 0", "5 % 0", "0 ** -1"],
                         ids=["divide", "floor-divide", "modulo", "zero-power"])
def test_invalid_arithmetic_is_an_eval_error(source):
    with pytest.raises(EvalError):
        evaluate(source)


def test_unknown_names_are_reported():
    with pytest.raises(EvalError, match="unknown variable 'x'"):
        evaluate("x + 1")
    with pytest.raises(EvalError, match="unknown function 'cube'"):
        evaluate("cube(2)")
