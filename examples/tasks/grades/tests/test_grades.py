import pytest

from grades import letter_grade


def test_middle_of_bands():
    assert [letter_grade(s) for s in (95, 85, 75, 65, 30)] == ["A", "B", "C", "D", "F"]


def test_out_of_range():
    with pytest.raises(ValueError):
        letter_grade(101)
