import pytest

from change import percent_change


def test_no_change():
    assert percent_change(10, 10) == 0


def test_from_zero():
    with pytest.raises(ValueError):
        percent_change(0, 5)
