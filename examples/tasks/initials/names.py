"""Helpers for people's names."""


def initials(full_name):
    """'Ada Lovelace' -> 'AL'. Whitespace between the parts of the name is not significant."""
    return "".join(part[0].upper() for part in full_name.strip().split(" "))
