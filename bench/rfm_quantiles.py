"""How close the quantile RFM bounds come to the exact quintiles, on a million customers.

    python bench/rfm_quantiles.py [--customers 1000000] [--shards 12]

Each customer (latest purchase, purchases in 365 days, spend) counts in its shard's
histograms as the engine counts it (triggers.rfm_quantiles: its cell, moved by
`Sketched`); the shards are merged and the quintiles taken, as the processor does at a
new day. The exact quintiles are computed here by sorting all values. For each bound:
the share of customers below it against the share below the exact quintile (the rank
error; the bar is 2 %). Three bases: a steady one, one with a Black-Friday day holding a
fifth of the latest purchases, and one of whole-number spends with heavy ties.
"""

from __future__ import annotations

import argparse
import bisect
import random
import time
from collections import Counter
from collections.abc import Callable

from common import ROOT  # noqa: F401  (puts the project on sys.path)

from triggers.rfm_quantiles import QUINTILES, Sketched, cell, quintile_bounds

DAY = 86_400.0
DAY_START = 20_790 * DAY
Customer = tuple[float, int, float]


def steady(rng: random.Random) -> Customer:
    purchases = 1 + int(rng.expovariate(1 / 4))
    return (
        DAY_START - rng.expovariate(1 / (60 * DAY)),
        purchases,
        round(purchases * rng.lognormvariate(7.5, 0.8), 2),
    )


def black_friday(rng: random.Random) -> Customer:
    last, purchases, spend = steady(rng)
    if rng.random() < 0.2:
        last = DAY_START - 8 * DAY + rng.random() * DAY
    return last, purchases, spend


def round_spends(rng: random.Random) -> Customer:
    last, purchases, _spend = steady(rng)
    return last, purchases, float(rng.choice((500, 1000, 1500, 2000, 5000)) * purchases)


def rank(values: list[float], bound: float) -> float:
    return bisect.bisect_left(values, bound) / len(values)


def measure(name: str, make: Callable[[random.Random], Customer], n: int, shards: int) -> float:
    rng = random.Random(11)
    customers = [make(rng) for _ in range(n)]
    sketches: list[Counter[str]] = [Counter() for _ in range(shards)]
    started = time.perf_counter()
    for number, (last, purchases, spend) in enumerate(customers):
        Sketched(None, cell(last, purchases, spend)).count_into(sketches[number % shards])
    counted = time.perf_counter()
    merged: Counter[str] = Counter()
    for sketch in sketches:
        merged.update(sketch)
    bounds = quintile_bounds(merged, DAY_START)
    taken = time.perf_counter()
    assert bounds is not None
    worst = 0.0
    exact_values = {
        "R (days)": sorted((DAY_START - last) / DAY for last, _p, _s in customers),
        "F": sorted(float(p) for _l, p, _s in customers),
        "M": sorted(s for _l, _p, s in customers),
    }
    found = {
        "R (days)": [b / DAY for b in bounds.recency_s],
        "F": list(bounds.frequency),
        "M": list(bounds.monetary),
    }
    print(f"{name}: {n:,} customers, {len(merged):,} histogram cells over {shards} shards")
    print(f"  counted in {counted - started:.1f} s; merged and taken in {taken - counted:.2f} s")
    for score, values in exact_values.items():
        errors = []
        for quantile, bound in zip(QUINTILES, found[score], strict=True):
            exact = values[int(quantile * len(values))]
            errors.append(abs(rank(values, bound) - rank(values, exact)))
        shown = ", ".join(f"{b:,.2f}" for b in found[score])
        print(f"  {score}: bounds {shown}; rank error max {max(errors):.3%}")
        worst = max(worst, *errors)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=12)
    args = parser.parse_args()
    worst = max(
        measure(name, make, args.customers, args.shards)
        for name, make in (
            ("steady", steady),
            ("black friday", black_friday),
            ("round spends", round_spends),
        )
    )
    print(f"worst rank error: {worst:.3%} (bar 2 %)")


if __name__ == "__main__":
    main()
