"""Fixed-size windows over a sequence."""


def sliding_windows(items, size):
    """Every run of `size` consecutive items, in order: [1, 2, 3] with size 2 gives
    [[1, 2], [2, 3]]. A size larger than the sequence gives no windows."""
    if size < 1:
        raise ValueError("size must be at least 1")
    items = list(items)
    return [items[i:i + size] for i in range(len(items) - size)]
