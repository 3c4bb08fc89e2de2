"""Lenient parsing of user input."""


def to_int(value, default=0):
    """`value` as an int, or `default` when it is not a number (None, '', 'abc', 4.5j...)."""
    try:
        return int(value)
    except ValueError:
        return default
