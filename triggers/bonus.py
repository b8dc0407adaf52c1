"""Bonus accounting per receipt and the ``bonus_earned`` trigger."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from triggers.customer import CustomerState, record_purchase, shown_balance
from triggers.events import Receipt
from triggers.notices import BALANCE_BELOW_ZERO, Anomaly, Candidate, plain_number

BONUS_EARNED = "bonus_earned"


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


def apply_receipt(
    state: CustomerState,
    receipt: Receipt,
    at: float,
    accrual_percent: Decimal,
    template: str | None,
) -> list[Candidate | Anomaly]:
    """Apply a receipt or return of a known customer; return the bonus notice, if any.

    A receipt adds ``earned - spent`` to the balance, a return reverses it. A balance sent
    by the POS always wins: it is the loyalty engine's own figure. The balance kept may go
    below zero (a return reverses bonuses already spent: a debt the next accruals pay
    off), counted as an `Anomaly`; what a customer reads never does (`shown_balance`): a
    return of more than was bought must not tell anybody «на счёте -4 945».
    ``template`` None means the ``bonus_earned`` trigger is switched off.
    """
    earned, spent, pos_balance = bonus_of(receipt, accrual_percent)
    is_return = receipt.type == "return"
    delta = spent - earned if is_return else earned - spent
    state.balance = pos_balance if pos_balance is not None else round(state.balance + delta, 2)
    outcomes: list[Candidate | Anomaly] = []
    if state.balance < 0:
        outcomes.append(Anomaly(BALANCE_BELOW_ZERO))
    record_purchase(state, receipt.total, receipt.lines, at, -1 if is_return else 1)
    if is_return or template is None or (earned <= 0 and spent <= 0):
        return outcomes
    assert receipt.customer_id is not None
    notice = Candidate(
        trigger=BONUS_EARNED,
        kind="transactional",
        customer_id=receipt.customer_id,
        template=template,
        vars={
            "first_name": state.first_name,
            "earned": plain_number(earned),
            "spent": plain_number(spent),
            "balance": plain_number(shown_balance(state)),
            "receipt_id": receipt.receipt_id,
            "store_id": receipt.store_id,
            "total": plain_number(receipt.total),
            "currency": receipt.currency,
        },
        caused_by=receipt.event_id,
        event_ts=receipt.ts,
        due_ts=receipt.ts,
    )
    return [*outcomes, notice]
