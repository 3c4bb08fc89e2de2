"""A shopping basket."""


class Basket:
    def __init__(self, items=[]):
        self.items = items

    def add(self, name, quantity=1):
        self.items.append((name, quantity))
        return self

    def count(self):
        return sum(quantity for _, quantity in self.items)
