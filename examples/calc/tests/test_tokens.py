import pytest

from calc.errors import ParseError
from calc.tokens import END, NAME, NUMBER, OP, tokenize


def kinds(source):
    return [(tok.kind, tok.text) for tok in tokenize(source)]


def test_numbers_names_and_operators():
    assert kinds("x1 + 2.5e3") == [(NAME, "x1"), (OP, "+"), (NUMBER, "2.5e3"), (END, "")]


def test_double_star_and_floor_division_are_single_tokens():
    assert [text for _, text in kinds("2**3//4")] == ["2", "**", "3", "//", "4", ""]


def test_positions_point_into_the_source():
    assert [tok.pos for tok in tokenize(" 12 *x")] == [1, 4, 5, 6]


def test_unknown_character_is_reported_with_its_position():
    with pytest.raises(ParseError) as info:
        tokenize("1 + $")
    assert info.value.pos == 4
