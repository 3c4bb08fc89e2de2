"""Formatting amounts of money for display."""

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_price(amount, currency="USD", decimals=0):
    """'$1,234.50' for format_price(1234.5). Shows two decimals unless told otherwise."""
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{symbol}{amount:,.{decimals}f}"
