"""Bonus accounting per receipt (the ``bonus_earned`` notice is a scenario: triggers.
scenarios.builtin)."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from triggers.customer import CustomerState
from triggers.events import Receipt
from triggers.notices import BALANCE_BELOW_ZERO, Anomaly


def bonus_of(receipt: Receipt, accrual_percent: Decimal) -> tuple[float, float, float | None]:
    """(earned, spent, balance reported by the POS or None).

    When the POS sent no ``bonus``, earned = total * accrual_percent / 100 rounded down to
    whole bonuses and spent = 0 (the contract's default accrual).
    """
    if receipt.bonus is not None:
        return receipt.bonus.earned, receipt.bonus.spent, receipt.bonus.balance
    # repr() is the shortest exact decimal form of the float: 1990.1 stays 1990.1
    earned = (Decimal(repr(receipt.total)) * accrual_percent / 100).to_integral_value(ROUND_FLOOR)
    return float(earned), 0.0, None


def apply_bonus(
    state: CustomerState, receipt: Receipt, accrual_percent: Decimal
) -> tuple[float, float, list[Anomaly]]:
    """Apply a receipt's or return's bonus to the balance: (earned, spent, anomalies).

    A receipt adds ``earned - spent`` to the balance, a return reverses it. A balance sent
    by the POS always wins: it is the loyalty engine's own figure. The balance kept may go
    below zero (a return reverses bonuses already spent: a debt the next accruals pay
    off), counted as an `Anomaly`; what a customer reads never does (`shown_balance`): a
    return of more than was bought must not tell anybody «на счёте -4 945».
    """
    earned, spent, pos_balance = bonus_of(receipt, accrual_percent)
    delta = spent - earned if receipt.type == "return" else earned - spent
    state.balance = pos_balance if pos_balance is not None else round(state.balance + delta, 2)
    return earned, spent, [Anomaly(BALANCE_BELOW_ZERO)] if state.balance < 0 else []
