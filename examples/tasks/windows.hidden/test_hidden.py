from windows import sliding_windows


def test_last_window_is_included():
    assert sliding_windows([1, 2, 3, 4], 2) == [[1, 2], [2, 3], [3, 4]]


def test_window_as_long_as_the_sequence():
    assert sliding_windows("abc", 3) == [["a", "b", "c"]]


def test_size_one():
    assert sliding_windows((5, 6), 1) == [[5], [6]]


def test_too_large_still_empty():
    assert sliding_windows([1, 2], 3) == []
