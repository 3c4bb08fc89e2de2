"""Percent changes between two values."""


def percent_change(old, new):
    """How much `new` differs from `old`, in percent of `old`: 50 -> 75 is +50.0."""
    if old == 0:
        raise ValueError("percent change from zero is undefined")
    return (old - new) / abs(old) * 100
