"""RFM bounds from the distribution of all customers (``segments.rfm.quantiles: true``).

Each customer with a purchase is one count in each of three fixed histograms, its *cell*
``[hour of the latest purchase, F, money bin of M]``, kept in its state (``sketched``)
so that a change moves the count from the old cell to the new one (`Sketched`). The
histograms are counters per shard (state.report's kind, written with the batch, exactly
once); once a day (event time, at the first batch after 00:00 UTC) they are merged and
the quintiles taken (`quintile_bounds`). Customers are re-scored with the new bounds at
their next event or timer.

Accuracy: F is counted by its exact value (up to `MAX_F`), so its bounds are exact; the
latest purchase by the hour and M in bins 0.5 % wide, so a bound is off the exact
quintile by at most the customers of one bin (one hour of last purchases, 0.5 % of
spend): within ±2 % of rank on any realistic base (bench/rfm_quantiles.py measures it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from triggers.rfm import RfmBounds

HOUR = 3600.0
MAX_F = 1000
"""purchases in 365 days counted by value up to this (more count as this)"""
MONEY_STEP = math.log(1.005)
QUINTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True, slots=True)
class Sketched:
    """A customer's histogram cell moved (None: no cell: no purchase)."""

    before: tuple[int, int, int] | None
    after: tuple[int, int, int] | None

    def count_into(self, counts: MutableMapping[str, int]) -> None:
        """Move the customer's count in ``counts`` from the old cell to the new one (a
        field both cells share, the same hour or F, nets to nothing)."""
        for cell, sign in ((self.before, -1), (self.after, 1)):
            if cell is not None:
                hour, f, money = cell
                for counter in (f"r:{hour}", f"f:{f}", f"m:{money}"):
                    counts[counter] = counts.get(counter, 0) + sign


def money_bin(amount: float) -> int:
    """0 below 1, else 1 + the 0.5 %-wide step of ``amount``."""
    if amount < 1:
        return 0
    return 1 + int(math.log(amount) / MONEY_STEP)


def money_of_bin(money: int) -> float:
    """The lower edge of a money bin."""
    return 0.0 if money <= 0 else round(math.exp((money - 1) * MONEY_STEP), 2)


def cell(last_purchase_at: float, purchases: float, spend: float) -> tuple[int, int, int]:
    """The histogram cell of a customer's R, F and M values."""
    return (
        int(last_purchase_at // HOUR),
        min(MAX_F, max(0, int(purchases))),
        money_bin(spend),
    )


def quintile_bounds(counts: Mapping[str, int], day_start: float) -> RfmBounds | None:
    """The quintiles of the merged histograms at ``day_start`` (None: nobody counted)."""
    recency: dict[float, int] = {}
    frequency: dict[float, int] = {}
    money: dict[float, int] = {}
    for name, count in counts.items():
        if count <= 0:  # a cell everyone has left
            continue
        kind, _, raw = name.partition(":")
        if not raw.lstrip("-").isdigit():
            continue
        value = int(raw)
        if kind == "r":  # the elapsed time from the hour's last moment: the smallest
            elapsed = max(0.0, day_start - (value + 1) * HOUR)
            recency[elapsed] = recency.get(elapsed, 0) + count
        elif kind == "f":
            frequency[float(value)] = frequency.get(float(value), 0) + count
        elif kind == "m":
            edge = money_of_bin(value)
            money[edge] = money.get(edge, 0) + count
    if not recency or not frequency or not money:
        return None
    return RfmBounds(_quintiles(recency), _quintiles(frequency), _quintiles(money))


def _quintiles(histogram: Mapping[float, int]) -> tuple[float, float, float, float]:
    """For each quintile, the value of the cell holding the customer at that rank."""
    total = sum(histogram.values())
    bounds = []
    seen = 0
    wanted = iter(QUINTILES)
    quantile: float | None = next(wanted)
    for value in sorted(histogram):
        seen += histogram[value]
        while quantile is not None and seen > quantile * total:
            bounds.append(value)
            quantile = next(wanted, None)
    while len(bounds) < len(QUINTILES):
        bounds.append(max(histogram))
    return bounds[0], bounds[1], bounds[2], bounds[3]


class DailyBounds:
    """The RFM bounds of the current day: the configured ones until the first day's
    quintiles are taken. Set by the processor (flows.processor) at each new day.

    The day's recency bounds are the quintiles of the latest purchase *times*: R is
    measured from the day's start (`recency_from`), so it holds all day and moves only
    when the bounds do (a bound as elapsed time would slide past customers during the
    day and slide back at the next day's quintiles)."""

    def __init__(self, configured: RfmBounds) -> None:
        self.bounds = configured
        self.recency_from: float | None = None
        """the moment R is measured from: the start of the day of these quintiles (None:
        the configured bounds, measured from the moment of scoring)"""
        self.next_day_at = -math.inf
        """when the next day's bounds are due (event time: the next 00:00 UTC)"""

    def taken(self, day_start: float, bounds: RfmBounds | None) -> None:
        """The bounds of the day from ``day_start`` (None: nothing counted yet; they stay)."""
        self.next_day_at = day_start + 86_400
        if bounds is not None:
            self.bounds = bounds
            self.recency_from = day_start
