from names import initials


def test_two_names():
    assert initials("Ada Lovelace") == "AL"


def test_lowercase_names_give_capitals():
    assert initials("grace brewster hopper") == "GBH"
