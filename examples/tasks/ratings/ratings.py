"""Summaries of star ratings (1 to 5)."""


def average_rating(ratings):
    """The mean rating, or None when there are no ratings yet."""
    if not ratings:
        return None
    return sum(ratings) // len(ratings)
