"""Quantile RFM bounds from the mergeable histograms: within 2 % of rank of the exact
quintiles (computed here by sorting), merged over shards, and moves counted once."""

from __future__ import annotations

import bisect
import random
from collections import Counter

from triggers.rfm_quantiles import (
    HOUR,
    QUINTILES,
    Sketched,
    cell,
    money_bin,
    money_of_bin,
    quintile_bounds,
)

DAY_START = 1_800_000_000.0 // 86_400 * 86_400


def _rank(values: list[float], bound: float) -> float:
    """The share of values below ``bound``."""
    return bisect.bisect_left(values, bound) / len(values)


def _customers(n: int, seed: int) -> list[tuple[float, int, float]]:
    """(latest purchase, purchases in 365 days, spend): skewed like a real base, with a
    Black-Friday day holding many of the latest purchases."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.05:
            last = DAY_START - 10 * 86_400 + rng.random() * 86_400
        else:
            last = DAY_START - rng.expovariate(1 / (60 * 86_400))
        purchases = 1 + int(rng.expovariate(1 / 4))
        spend = round(purchases * rng.lognormvariate(7.5, 0.8), 2)
        out.append((last, purchases, spend))
    return out


def test_quantile_bounds_are_within_two_percent_of_rank_of_the_exact_quintiles() -> None:
    customers = _customers(200_000, 7)
    shards: list[Counter[str]] = [Counter(), Counter(), Counter()]
    for n, (last, purchases, spend) in enumerate(customers):
        Sketched(None, cell(last, purchases, spend)).count_into(shards[n % 3])
    merged: Counter[str] = Counter()
    for counts in shards:
        merged.update(counts)
    bounds = quintile_bounds(merged, DAY_START)
    assert bounds is not None
    recency = sorted(DAY_START - last for last, _p, _s in customers)
    frequency = sorted(float(p) for _l, p, _s in customers)
    monetary = sorted(s for _l, _p, s in customers)
    for values, found in (
        (recency, bounds.recency_s),
        (frequency, bounds.frequency),
        (monetary, bounds.monetary),
    ):
        for quantile, bound in zip(QUINTILES, found, strict=True):
            exact = values[int(quantile * len(values))]  # the customer at that rank
            assert abs(_rank(values, bound) - _rank(values, exact)) <= 0.02, (quantile, bound)
    assert list(bounds.recency_s) == sorted(bounds.recency_s)


def test_a_move_takes_the_count_from_the_old_cell_to_the_new() -> None:
    before, after = cell(100 * HOUR + 5, 3, 1000.0), cell(101 * HOUR, 4, 1500.0)
    assert before == (100, 3, money_bin(1000.0))
    counts: Counter[str] = Counter({"r:100": 1, "f:3": 1, f"m:{money_bin(1000.0)}": 1})
    Sketched(before, after).count_into(counts)
    assert +counts == {"r:101": 1, "f:4": 1, f"m:{money_bin(1500.0)}": 1}
    again = cell(101 * HOUR + 60, 4, 1600.0)  # the same hour and F: only M moves
    Sketched(after, again).count_into(counts)
    assert +counts == {"r:101": 1, "f:4": 1, f"m:{money_bin(1600.0)}": 1}
    assert quintile_bounds({}, DAY_START) is None


def test_money_bins_are_half_a_percent_wide_and_ordered() -> None:
    assert money_bin(0) == money_bin(0.99) == 0
    for amount in (1.0, 7.5, 999.99, 5000.0, 123456.78):
        edge = money_of_bin(money_bin(amount))
        assert edge <= amount + 0.01 and amount < edge * 1.0051 + 0.01
    assert money_bin(5000) < money_bin(5030)
