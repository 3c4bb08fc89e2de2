from prices import format_price


def test_explicit_decimals():
    assert format_price(3.14159, decimals=3) == "$3.142"


def test_unknown_currency_uses_its_code():
    assert format_price(5, "CHF", decimals=1) == "CHF 5.0"
