import pytest

from calc.errors import ParseError
from calc.nodes import BinOp, Call, Num, Unary, Var
from calc.parser import parse


def test_multiplication_binds_tighter_than_addition():
    assert parse("1 + 2 * 3") == BinOp("+", Num(1), BinOp("*", Num(2), Num(3)))


def test_subtraction_groups_from_the_left():
    assert parse("a - b - c") == BinOp("-", BinOp("-", Var("a"), Var("b")), Var("c"))


def test_parentheses_override_precedence():
    assert parse("(1 + 2) * 3") == BinOp("*", BinOp("+", Num(1), Num(2)), Num(3))


def test_unary_minus():
    assert parse("-x * 2") == BinOp("*", Unary("-", Var("x")), Num(2))


def test_function_calls_with_several_arguments():
    assert parse("max(1, y, 2.0)") == Call("max", (Num(1), Var("y"), Num(2.0)))


@pytest.mark.parametrize("source", ["1 +", "(1 + 2", "1 2", "max(1,", ")"],
                         ids=["dangling-operator", "unclosed", "juxtaposed", "unclosed-call",
                              "stray-paren"])
def test_malformed_expressions_are_rejected(source):
    with pytest.raises(ParseError):
        parse(source)
