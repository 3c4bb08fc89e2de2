from basket import Basket


def test_new_baskets_are_independent():
    a = Basket()
    a.add("apple")
    b = Basket()
    assert b.count() == 0
    assert a.count() == 1


def test_given_items_are_not_modified():
    start = [("fig", 2)]
    basket = Basket(start)
    basket.add("kiwi")
    assert basket.count() == 3
    assert start == [("fig", 2)]
