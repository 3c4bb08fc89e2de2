from names import initials


def test_repeated_spaces():
    assert initials("Ada  Lovelace") == "AL"


def test_tabs_and_newlines():
    assert initials("Alan\tMathison\nTuring") == "AMT"


def test_single_spaces_unchanged():
    assert initials(" grace hopper ") == "GH"
