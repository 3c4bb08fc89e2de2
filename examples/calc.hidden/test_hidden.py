"""Grading tests for the `**` associativity issue. Not part of the repository agents see."""

import pytest

from calc import evaluate, parse
from calc.cli import main
from calc.nodes import BinOp, Num, Unary, Var


def test_power_chain_groups_from_the_right():
    assert evaluate("2 ** 3 ** 2") == 512


def test_longer_power_chain():
    assert evaluate("2 ** 1 ** 3 ** 2") == 2
    assert evaluate("x ** y ** z", {"x": 3, "y": 2, "z": 3}) == 3**8


def test_power_chain_tree_shape():
    assert parse("a ** b ** c") == BinOp("**", Var("a"), BinOp("**", Var("b"), Var("c")))


def test_cli_prints_right_grouped_power(capsys):
    assert main(["2 ** 3 ** 2"]) == 0
    assert capsys.readouterr().out == "512\n"


def test_parenthesised_powers_are_unchanged():
    assert evaluate("(2 ** 3) ** 2") == 64
    assert evaluate("2 ** (3 ** 2)") == 512


@pytest.mark.parametrize(
    ("source", "expected"),
    [("10 - 4 - 3", 3), ("100 / 10 / 5", 2), ("2 * 3 % 4", 2), ("64 // 4 // 2", 8)],
    ids=["subtraction", "division", "mixed", "floor-division"],
)
def test_other_operators_still_group_from_the_left(source, expected):
    assert evaluate(source) == expected


def test_unary_minus_and_powers():
    assert evaluate("-2 ** 2") == -4
    assert evaluate("2 ** -1") == 0.5
    assert parse("-a ** b") == Unary("-", BinOp("**", Var("a"), Var("b")))
    assert parse("2 ** -1") == BinOp("**", Num(2), Unary("-", Num(1)))
