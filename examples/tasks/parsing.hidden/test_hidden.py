from parsing import to_int


def test_none_gives_default():
    assert to_int(None) == 0
    assert to_int(None, default=5) == 5


def test_other_non_numbers_give_default():
    assert to_int([1], default=-1) == -1
    assert to_int(3j, default=-2) == -2


def test_valid_and_invalid_text_unchanged():
    assert to_int("17") == 17
    assert to_int("x", default=9) == 9
