"""Template vars of a scenario's notice, built when its step falls due.

Always ``first_name``, ``balance``, ``days_since_purchase``, ``tier``, ``segment``; what
the entry gave (a purchase: ``total``, ``lines``, ``store_id``; a cart: the cart as it is
now); ``viewed`` where views matter; the step's own ``vars``. ``recommendations`` are
looked up by the engine (they need every customer's receipts: flows.processor) from the
products `recommendation_seeds` names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from triggers.customer import DAY, CustomerState, shown_balance
from triggers.notices import plain_number
from triggers.rfm import segment_of
from triggers.scenarios.instances import Instance
from triggers.scenarios.program import (
    CART_VARS,
    KEPT_LINES,
    Program,
    Scenario,
    Step,
    step_templates,
)

VIEWED_DAYS = 7
VIEWED_MAX = 5


def cart_lines(state: CustomerState) -> list[dict[str, Any]]:
    """The cart's lines as notices show them."""
    return [
        {
            "sku": sku,
            "category": category,
            "qty": plain_number(qty),
            "price": plain_number(price),
            "amount": plain_number(round(qty * price, 2)),
        }
        for sku, (qty, price, category) in state.cart.items()
    ]


def _days_since_purchase(state: CustomerState, due: float) -> int | None:
    last = state.last_purchase_at
    return None if last is None else int((due - last) // DAY)


def viewed(state: CustomerState, due: float) -> list[dict[str, Any]]:
    """The most recent distinct product views of the last 7 days, latest first."""
    since = due - VIEWED_DAYS * DAY
    recent = [
        {"sku": sku, "category": category} for sku, category, at in state.viewed if at > since
    ]
    return recent[::-1][:VIEWED_MAX]


_STATE_VARS: dict[str, Callable[[CustomerState, float], Any]] = {
    "first_name": lambda state, _due: state.first_name,
    "balance": lambda state, _due: plain_number(shown_balance(state)),
    "days_since_purchase": _days_since_purchase,
    "tier": lambda state, _due: state.tier,  # None: no loyalty tiers configured
    "segment": lambda state, _due: segment_of(state.rfm),  # None: no RFM, or no purchase
    "viewed": viewed,
    "lines": lambda state, _due: cart_lines(state),
    "total": lambda state, _due: plain_number(
        round(sum(qty * price for qty, price, _c in state.cart.values()), 2)
    ),
    "items": lambda state, _due: len(state.cart),
}
"""vars read from the customer's state when the step falls due (cart vars: the cart now)"""


def entry_snapshot(scenario: Scenario, entry_vars: Mapping[str, Any]) -> dict[str, Any]:
    """What an instance keeps of its entry's vars for its later steps (lines: the first
    `KEPT_LINES`)."""
    kept = {name: entry_vars[name] for name in scenario.entry_vars if name in entry_vars}
    if isinstance(kept.get("lines"), list):
        kept["lines"] = kept["lines"][:KEPT_LINES]
    return kept


def step_vars(
    scenario: Scenario,
    step: Step,
    state: CustomerState,
    instance: Instance,
    due: float,
    entry_vars: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The vars of ``step``'s notice. ``entry_vars``: the entry event's (None: a later
    step, which reads what the instance kept)."""
    given = entry_vars if entry_vars is not None else instance.extra.get("ev", {})
    values: dict[str, Any] = {}
    cart = scenario.entry_on == "cart_changed"
    for name in scenario.shown:
        if name in step.vars:
            values[name] = step.vars[name]
        elif name in CART_VARS and cart:
            values[name] = _STATE_VARS[name](state, due)
        elif name in scenario.entry_vars:
            values[name] = given.get(name)
        elif name in _STATE_VARS:
            values[name] = _STATE_VARS[name](state, due)
        elif name == "recommendations":
            values[name] = []  # filled in by the engine (see the module's docstring)
        else:
            values[name] = given.get(name)
    if not scenario.only_shown:
        for name, value in step.vars.items():
            values.setdefault(name, value)
        if step.recommends:
            values.setdefault("recommendations", [])
    return values


def recommendation_seeds(state: CustomerState, instance: Instance) -> tuple[str, ...]:
    """The products recommendations start from: the entry purchase's, else the cart's,
    else the recently viewed ones."""
    kept = instance.extra.get("sk")
    if kept:
        return tuple(kept)
    if state.cart:
        return tuple(state.cart)
    return tuple(sku for sku, _category, _at in reversed(state.viewed))


SAMPLES: dict[str, Any] = {
    "first_name": "Анна",
    "balance": 1840,
    "days_since_purchase": 30,
    "tier": "silver",
    "segment": "loyal",
    "earned": 99,
    "spent": 100,
    "receipt_id": "R-000123",
    "store_id": "S001",
    "total": 1990,
    "currency": "RUB",
    "order_id": "O-000123",
    "lines": [
        {"sku": "kettle", "category": "техника", "qty": 1, "price": 1990, "amount": 1990},
    ],
    "items": 1,
    "viewed": [{"sku": "kettle", "category": "техника"}, {"sku": "mug", "category": "посуда"}],
    "recommendations": [{"sku": "tea", "category": "чай"}, {"sku": "mug", "category": "посуда"}],
    "points": 250,
    "expires_at": "2026-12-31T21:00:00.000+00:00",
    "expires_on": "2027-01-01",
    "from": "base",
    "to": "silver",
    "direction": "up",
}
"""what each var looks like, to check templates at start and to preview them"""
CART_SAMPLES: dict[str, Any] = {
    "items": 2,
    "total": 2280,
    "lines": [
        {"sku": "kettle", "category": "техника", "qty": 1, "price": 1990, "amount": 1990},
        {"sku": "mug", "category": "посуда", "qty": 2, "price": 145, "amount": 290},
    ],
}
MAY_BE_EMPTY: dict[str, Any] = {
    "first_name": None,
    "days_since_purchase": None,
    "tier": None,
    "segment": None,
    "store_id": None,
    "viewed": [],
    "recommendations": [],
}
"""what a var is for a customer who has none of it (no name, no purchase, no tier...)"""


def sample_vars(scenario: Scenario, step: Step, empty: bool = False) -> dict[str, Any]:
    """The vars of a notice of ``step`` for a sample customer (``empty``: one who has
    none of the optional ones): how its templates are checked and previewed."""
    samples = {**SAMPLES, **(CART_SAMPLES if scenario.entry_on == "cart_changed" else {})}
    if empty:
        samples.update(MAY_BE_EMPTY)
    values = {
        name: step.vars[name] if name in step.vars else samples.get(name) for name in scenario.shown
    }
    if not scenario.only_shown:
        values.update((k, v) for k, v in step.vars.items() if k not in values)
        if step.recommends:
            values.setdefault("recommendations", samples["recommendations"])
    return values


def template_sample(program: Program, template: str) -> dict[str, Any] | None:
    """Sample vars of the first step that uses ``template`` (None: no step does)."""
    for scenario in program.scenarios.values():
        for step in scenario.steps.values():
            if template in step_templates(step):
                return sample_vars(scenario, step)
    return None
