"""A small inventory module."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    quantity: int = 0

    def restock(self, amount: int) -> None:
        self.quantity += amount


class Inventory:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def add(self, item: Item) -> None:
        self.items[item.name] = item

    @property
    def total(self) -> int:
        def count(i: Item) -> int:
            return i.quantity

        return sum(count(i) for i in self.items.values())


def load_inventory(path: str) -> Inventory:
    return Inventory()
