import pytest

from change import percent_change


def test_increase_is_positive():
    assert percent_change(50, 75) == 50.0


def test_decrease_is_negative():
    assert percent_change(200, 150) == -25.0


def test_negative_start():
    assert percent_change(-10, -5) == 50.0


def test_unchanged_cases():
    assert percent_change(3, 3) == 0
    with pytest.raises(ValueError):
        percent_change(0, 1)
