"""Bonus accounting per receipt (the ``bonus_earned`` notice is a scenario: triggers.
scenarios.builtin)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

from triggers.customer import CustomerState
from triggers.events import Receipt
from triggers.notices import BALANCE_BELOW_ZERO, Anomaly
from triggers.points import accrue, cap_to_balance, spend_oldest, take_newest

ONE = Decimal(1)


def bonus_of(
    receipt: Receipt, percent: Decimal, multipliers: Mapping[str, Decimal] | None = None
) -> tuple[float, float, float | None]:
    """(earned, spent, balance reported by the POS or None).

    When the POS sent no ``bonus``: spent = 0 and earned rounded down to whole bonuses
    of ``total * percent / 100`` (the contract's default accrual), or, with loyalty
    configured (``multipliers`` given), of the sum over the lines of ``amount * percent *
    the category's multiplier / 100`` (a receipt without lines: of its total).
    """
    if receipt.bonus is not None:
        return receipt.bonus.earned, receipt.bonus.spent, receipt.bonus.balance
    # repr() is the shortest exact decimal form of the float: 1990.1 stays 1990.1
    if multipliers is None or not receipt.lines:
        base = Decimal(repr(receipt.total))
    else:
        base = _lines_base(receipt, multipliers)
    earned = (base * percent / 100).to_integral_value(ROUND_FLOOR)
    return float(earned), 0.0, None


def _lines_base(receipt: Receipt, multipliers: Mapping[str, Decimal]) -> Decimal:
    """The sum over the lines of ``amount * multiplier``, exact: whole kopecks added as
    integers per multiplier (an amount of finer precision as its exact decimal)."""
    kopecks: dict[Decimal, int] = {}
    finer = Decimal(0)
    for line in receipt.lines:
        multiplier = multipliers.get(line.category or "", ONE)
        amount = line.amount
        whole = round(amount * 100)
        if whole / 100 == amount:  # then its shortest decimal form is whole / 100
            kopecks[multiplier] = kopecks.get(multiplier, 0) + whole
        else:
            finer += Decimal(repr(amount)) * multiplier
    return (
        finer + sum((multiplier * total for multiplier, total in kopecks.items()), Decimal(0)) / 100
    )


def apply_bonus(
    state: CustomerState,
    receipt: Receipt,
    at: float,
    percent: Decimal,
    multipliers: Mapping[str, Decimal] | None = None,
    expiring: bool = False,
) -> tuple[float, float, list[Anomaly]]:
    """Apply a receipt's or return's bonus to the balance: (earned, spent, anomalies).

    A receipt adds ``earned - spent`` to the balance, a return reverses it. A balance sent
    by the POS always wins: it is the loyalty engine's own figure. The balance kept may go
    below zero (a return reverses bonuses already spent: a debt the next accruals pay
    off), counted as an `Anomaly`; what a customer reads never does (`shown_balance`): a
    return of more than was bought must not tell anybody «на счёте -4 945».

    ``expiring``: our own accruals are lots that expire (triggers.points): a receipt adds
    one, a return takes its points back from the newest, spent points go from the oldest.
    """
    earned, spent, pos_balance = bonus_of(receipt, percent, multipliers)
    returned = receipt.type == "return"
    delta = spent - earned if returned else earned - spent
    state.balance = pos_balance if pos_balance is not None else round(state.balance + delta, 2)
    if expiring:
        lots = state.lots
        if receipt.bonus is None:
            if returned:
                take_newest(lots, earned)
            else:
                accrue(lots, earned, at)
        elif spent and not returned:
            spend_oldest(lots, spent)
        cap_to_balance(lots, state.balance)
    return earned, spent, [Anomaly(BALANCE_BELOW_ZERO)] if state.balance < 0 else []
