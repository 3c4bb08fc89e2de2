import pytest

from windows import sliding_windows


def test_size_larger_than_sequence_gives_nothing():
    assert sliding_windows([1, 2], 3) == []


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        sliding_windows([1, 2], 0)
