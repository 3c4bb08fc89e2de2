from prices import format_price


def test_two_decimals_by_default():
    assert format_price(3.5) == "$3.50"
    assert format_price(1234.5, "EUR") == "€1,234.50"


def test_explicit_decimals_still_work():
    assert format_price(2, decimals=0) == "$2"
    assert format_price(5, "CHF", decimals=1) == "CHF 5.0"
