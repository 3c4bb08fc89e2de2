from durations import format_duration


def test_minutes_are_padded_after_hours():
    assert format_duration(3909) == "1:05:09"
    assert format_duration(3600) == "1:00:00"


def test_many_hours():
    assert format_duration(36000 + 59) == "10:00:59"


def test_under_an_hour_unchanged():
    assert format_duration(605) == "10:05"
