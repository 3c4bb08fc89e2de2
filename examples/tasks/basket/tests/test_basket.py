from basket import Basket


def test_add_and_count():
    assert Basket().add("apple", 3).add("pear").count() == 4


def test_start_with_items():
    assert Basket([("fig", 2)]).count() == 2
