"""Bonus lots that expire (contract: "Segments and loyalty", ``expiry_days``).

Each accrual of our own rules is a lot ``[earned_at, points]`` (points written as whole
numbers where they are: the state is stored as JSON); accruals of the very same time are
one lot. Spending takes the oldest lots first; a return takes back the newest. A lot
expires exactly ``expiry_s`` after it was earned (the balance drops by what is left of
it), and its warning comes ``warning_s`` before (a third item, 1, marks it given). The
lots never hold more than the balance.
"""

from __future__ import annotations

import bisect

from triggers.notices import plain_number

MAX_LOTS = 64
"""lots per customer: beyond, the two oldest merge (at the later time: no point expires
before its time)"""
WARNED = 1


def accrue(lots: list[list[float]], points: float, at: float) -> None:
    """A new accrual of ``points`` at ``at``."""
    if points <= 0:
        return
    place = bisect.bisect_left(lots, at, key=lambda lot: lot[0])  # a late receipt: its place
    if place < len(lots) and lots[place][0] == at:
        lots[place] = [at, plain_number(lots[place][1] + points)]  # warned anew
    else:
        lots.insert(place, [at, plain_number(points)])
    if len(lots) > MAX_LOTS:
        lots[:2] = [[lots[1][0], plain_number(lots[0][1] + lots[1][1])]]


def spend_oldest(lots: list[list[float]], points: float) -> None:
    """Points spent: from the oldest lots on."""
    while points > 0 and lots:
        lot = lots[0]
        taken = min(lot[1], points)
        lot[1] = plain_number(round(lot[1] - taken, 2))
        points = round(points - taken, 2)
        if lot[1] <= 0:
            lots.pop(0)


def take_newest(lots: list[list[float]], points: float) -> None:
    """Points taken back (a return of what earned them): from the newest lots on."""
    while points > 0 and lots:
        lot = lots[-1]
        taken = min(lot[1], points)
        lot[1] = plain_number(round(lot[1] - taken, 2))
        points = round(points - taken, 2)
        if lot[1] <= 0:
            lots.pop()


def cap_to_balance(lots: list[list[float]], balance: float) -> None:
    """Lots never hold more than the balance (a POS balance, a return of spent points):
    what is over goes from the oldest."""
    over = round(sum(lot[1] for lot in lots) - max(balance, 0.0), 2)
    if over > 0:
        spend_oldest(lots, over)


def warning_at(lot: list[float], expiry_s: float, warning_s: float) -> float:
    """When a lot's expiry warning comes (at the accrual itself when the warning period
    is as long as the expiry)."""
    return max(lot[0], lot[0] + expiry_s - warning_s)


def next_lot_change(
    lots: list[list[float]], expiry_s: float, warning_s: float | None
) -> float | None:
    """The next warning or expiry of the lots (``warning_s`` None: no warnings)."""
    if not lots:
        return None
    soonest = lots[0][0] + expiry_s
    if warning_s is None:
        return soonest
    for lot in lots:
        if len(lot) < 3:
            return min(soonest, warning_at(lot, expiry_s, warning_s))
    return soonest


def settle_lots(
    lots: list[list[float]], at: float, expiry_s: float, warning_s: float | None
) -> tuple[list[tuple[float, float]], float]:
    """The warnings and expiries due at ``at``: ``([(points, expires_at), ...], points
    expired)``. A warning whose lot expires by then is not given."""
    expired = 0.0
    while lots and lots[0][0] + expiry_s <= at:
        expired += lots.pop(0)[1]
    warnings: list[tuple[float, float]] = []
    if warning_s is None:
        return warnings, round(expired, 2)
    for lot in lots:
        if len(lot) < 3 and warning_at(lot, expiry_s, warning_s) <= at:
            lot.append(WARNED)
            warnings.append((lot[1], lot[0] + expiry_s))
    return warnings, round(expired, 2)
