import pytest

from grades import letter_grade


@pytest.mark.parametrize(("score", "letter"), [(90, "A"), (80, "B"), (70, "C"), (60, "D")])
def test_boundaries_earn_the_higher_letter(score, letter):
    assert letter_grade(score) == letter


def test_just_below_boundaries():
    assert [letter_grade(s) for s in (89.5, 79, 69, 59)] == ["B", "C", "D", "F"]


def test_extremes():
    assert letter_grade(100) == "A"
    assert letter_grade(0) == "F"
