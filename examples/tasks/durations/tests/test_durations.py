from durations import format_duration


def test_under_a_minute():
    assert format_duration(7) == "0:07"


def test_under_an_hour():
    assert format_duration(605) == "10:05"
