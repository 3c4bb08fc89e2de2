import pytest

from ratings import average_rating


def test_fractional_average():
    assert average_rating([4, 5]) == 4.5
    assert average_rating([5, 5, 4]) == pytest.approx(14 / 3)


def test_whole_and_empty_unchanged():
    assert average_rating([2, 4]) == 3
    assert average_rating([]) is None
