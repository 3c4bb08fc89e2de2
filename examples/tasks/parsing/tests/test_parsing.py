from parsing import to_int


def test_numbers():
    assert to_int("42") == 42
    assert to_int(7.9) == 7


def test_text_gives_default():
    assert to_int("abc", default=-1) == -1
