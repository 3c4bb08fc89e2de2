import pytest

from temperature import celsius_to_fahrenheit, fahrenheit_to_celsius


def test_boiling_and_freezing_points():
    assert fahrenheit_to_celsius(212) == pytest.approx(100)
    assert fahrenheit_to_celsius(32) == pytest.approx(0)


def test_round_trip():
    for c in (-40, 0, 37, 100):
        assert fahrenheit_to_celsius(celsius_to_fahrenheit(c)) == pytest.approx(c)


def test_celsius_to_fahrenheit_unchanged():
    assert celsius_to_fahrenheit(37) == pytest.approx(98.6)
