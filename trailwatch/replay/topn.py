"""Bounded, mergeable top-N counters (the Misra-Gries summary), for the top principals, IPs and event names.

A counter is a plain ``{value: count}`` dict (the engine's inner loop increments it directly). When it holds
more than ``TOP_CAP`` distinct values, :func:`prune` subtracts the count ``e`` of its ``KEEP + 1``-th
largest value from every count and drops those left at zero or below, so at most ``KEEP`` remain. Each
pruning removes at least ``(KEEP + 1) * e`` from the counter's total, so the decrements of a counter add up
to at most ``N / (KEEP + 1)`` for ``N`` counted occurrences; a value's kept count is low by at most that
sum, which the caller carries as the counter's error. Merging adds the counts and the errors, then prunes
the sum the same way: the bound still holds for the merged total (Agarwal et al., "Mergeable summaries",
2012). Below the cap nothing is pruned and every count is exact, whatever the split and merge order.
"""

from __future__ import annotations

TOP_CAP = 100_000  # distinct values one counter holds before it is pruned


def keep() -> int:
    """How many values a pruned counter keeps at most."""
    return TOP_CAP // 2


def prune(counter: dict[str, int]) -> int:
    """Prune ``counter`` in place if it holds more than ``TOP_CAP`` values; return the decrement (0 if not
    pruned), which the caller adds to the counter's error."""
    if len(counter) <= TOP_CAP:
        return 0
    floor = sorted(counter.values(), reverse=True)[keep()]
    kept = [(value, count - floor) for value, count in counter.items() if count > floor]
    counter.clear()  # in place: the engine's feed loop holds references to these dicts
    counter.update(kept)
    return floor


def add(into: dict[str, int], other: dict[str, int]) -> int:
    """Add ``other``'s counts to ``into`` and prune; return the decrement, as :func:`prune`."""
    for value, count in other.items():
        into[value] = into.get(value, 0) + count
    return prune(into)
