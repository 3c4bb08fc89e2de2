from ratings import average_rating


def test_no_ratings():
    assert average_rating([]) is None


def test_equal_ratings():
    assert average_rating([4, 4, 4]) == 4
