"""One event (or one due timer) against one customer's state: what changes, what happened
for scenarios (trigger events), and the notices their steps want to send.

`apply_event` applies the event to the state and hands the trigger events it makes to the
scenario interpreter; `fire_timer` hands it a due timer; `conclude` tells it what the
delivery policy decided. The rules (accrual, the scenarios) are a `Rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from triggers.bonus import apply_bonus
from triggers.cart import cart_is_news, change_cart, empty_cart, merge_cart
from triggers.customer import (
    DAY,
    CustomerState,
    apply_customer_update,
    merge_views,
    record_bought,
    record_purchase,
    record_view,
)
from triggers.events import (
    CLICK_TYPES,
    Click,
    CustomerUpdate,
    Event,
    Receipt,
    ReceiptLine,
    epoch_of,
)
from triggers.notices import (
    Anomaly,
    Candidate,
    Decision,
    plain_number,
)
from triggers.scenarios.builtin import builtin_definitions
from triggers.scenarios.engagement import record_receipt
from triggers.scenarios.interpreter import Action as ScenarioAction
from triggers.scenarios.interpreter import Interpreter, Note
from triggers.scenarios.model import ScenarioSpec
from triggers.scenarios.program import Program, compile_program
from triggers.scenarios.signals import PRODUCT, Signal
from triggers.schema import CART_CHANGES
from triggers.standing import NEXT_CHANGE, STANDING_EVENTS, Loyalty
from triggers.timers import take

Action = ScenarioAction | Anomaly
"""what the engine acts on or counts: notices to decide, notices that will not be sent,
data corrected"""
REGISTERED_WITHIN_S = DAY
"""a first registered_at at most this long before the event starts welcome chains"""
CLICK_SIGNALS = frozenset(("product_view", "add_to_cart", "checkout_start", "login", "page_view"))


@dataclass(frozen=True)
class Rules:
    """The rules the engine applies: the accrual and the scenarios (by default the three
    built-ins, from the values below; a template of None switches one off)."""

    accrual_percent: Decimal = Decimal(5)
    bonus_template: str | None = "bonus_earned"
    cart_template: str | None = "abandoned_cart"
    cart_delay_s: float = 3600.0
    win_back_template: str | None = "win_back"
    win_back_after_s: float = 30 * DAY
    win_back_offer: str = "Дарим 300 бонусов на следующую покупку"
    scenarios: Mapping[str, ScenarioSpec] | None = None
    """every scenario, built-ins included (smartcomms.config); None: the built-ins above"""
    template_vars: Callable[[str], Collection[str]] = field(default=lambda _template: ())
    """the vars a template uses (channels.templates): steps showing recommendations"""
    default_timezone: str = "Europe/Moscow"
    global_control_percent: float = 0.0
    """customers kept out of every marketing scenario (experiments.global_control_percent)"""
    loyalty: Loyalty = field(default_factory=Loyalty)
    """segments and loyalty: RFM, tiers, accrual by lines, expiring lots"""
    interpreter: Interpreter = field(init=False, repr=False, compare=False)
    reads_code: bool = field(init=False, repr=False, compare=False)
    """an enabled scenario compares the three-digit ``rfm`` code, which no timer waits
    for (triggers.standing): every check scores it anew"""
    changing: Mapping[tuple[str, bool], bool] = field(init=False, repr=False, compare=False)
    """(event type, known customer) -> whether it can change a state (`changes_state`)"""

    def __post_init__(self) -> None:
        specs = self.scenarios
        if specs is None:
            raw = builtin_definitions(
                self.bonus_template,
                self.cart_template,
                self.cart_delay_s,
                self.win_back_template,
                self.win_back_after_s,
                self.win_back_offer,
            )
            specs = {sid: ScenarioSpec.model_validate(d) for sid, d in raw.items()}
        program = compile_program(specs, self.template_vars, self.global_control_percent)
        object.__setattr__(self, "interpreter", Interpreter(program, self.default_timezone))
        heard = frozenset(name for name in STANDING_EVENTS if program.uses(name))
        object.__setattr__(
            self, "loyalty", replace(self.loyalty, heard=heard, timezone=self.default_timezone)
        )
        reads_code = any("rfm" in spec.names_used() for spec in specs.values() if spec.enabled)
        object.__setattr__(self, "reads_code", reads_code and self.loyalty.rfm is not None)
        object.__setattr__(self, "changing", _changing(program))

    @property
    def program(self) -> Program:
        return self.interpreter.program


def changes_state(event: Event, rules: Rules) -> bool:
    """Whether the event can change a subject's state (others skip the state round trip)."""
    return rules.changing[event.type, getattr(event, "customer_id", None) is not None]


def _changing(program: Program) -> dict[tuple[str, bool], bool]:
    """(event type, known customer) -> whether such an event can change a state."""
    table = {}
    for kind in ("receipt", "return", "customer", "delivery", *CLICK_TYPES):
        for known in (False, True):
            if kind in ("receipt", "return"):
                changes = known
            elif kind == "customer":
                changes = True
            elif kind == "delivery":
                changes = program.engagement
            elif kind in CART_CHANGES or kind == "order":
                changes = True  # carts are kept for devices too (a login moves them)
            elif kind == "product_view" and program.views:
                changes = True
            else:  # login: a device's cart moves; other clicks: where scenarios use them
                changes = known and (kind == "login" or program.uses(kind))
            table[kind, known] = changes
    return table


def linked_subject(event: Event) -> str | None:
    """A second subject the event needs: the device whose cart a login takes over."""
    if isinstance(event, Click) and event.type == "login" and event.customer_id is not None:
        return "a:" + event.anonymous_id
    return None


def apply_event(
    state: CustomerState,
    event: Event,
    at: float,
    rules: Rules,
    linked: CustomerState | None = None,
    notes: list[Note] | None = None,
) -> list[Action]:
    """Apply ``event`` (event time ``at``, epoch s) to ``state`` in place, and what it
    means for the scenarios: candidate notices of steps due at once, notices cancelled
    while held by quiet hours, data corrected. How instances went goes to ``notes``.

    ``linked`` is the state of `linked_subject(event)`, changed in place too.
    """
    actions: list[Action] = []
    notes = [] if notes is None else notes
    customer_id = getattr(event, "customer_id", None)
    if customer_id is not None and state.timers.get(NEXT_CHANGE) == at:
        # windows are (now - N days, now]: a change of standing due at this very time
        # comes first, and the event sees the new segment, tier and balance (other timers
        # due now fire after it: an order at the second its cart's nudge falls due wins)
        actions += fire_timer(state, NEXT_CHANGE, at, customer_id, rules, notes)
    loyalty = rules.loyalty
    signals: list[Signal] = []
    if customer_id is not None and loyalty.tiers and state.tier is None:
        # not scored yet (a new customer, or tiers switched on after its purchases): first
        # the tier it holds before the event (its accrual's), so that the event's move
        # from it is a change whatever came first, a profile or the receipt
        signals += loyalty.refresh(state, at, event.event_id, event.ts, notes)
    if isinstance(event, Receipt):
        signals += _receipt(state, event, at, rules, actions, notes)
    elif isinstance(event, Click):
        signals += _click(state, event, at, rules, linked, notes)
    elif isinstance(event, CustomerUpdate):
        signals += _customer(state, event, at, rules)
    else:
        receipt = record_receipt(state, event, at)
        if isinstance(receipt, Signal):
            signals.append(receipt)
        if isinstance(receipt, Anomaly):
            actions.append(receipt)
    if customer_id is None:
        return actions
    if loyalty.active and _moves_standing(event, state, at, rules):
        signals += loyalty.refresh(state, at, event.event_id, event.ts, notes)
    interpreter = rules.interpreter
    if interpreter.program.birthdays:
        interpreter.arm_birthdays(state, at)
    if signals:
        actions += interpreter.signals(state, customer_id, signals, notes)
    return actions


def _moves_standing(event: Event, state: CustomerState, at: float, rules: Rules) -> bool:
    """Whether the event must bring the customer's standing to its time: a purchase or
    return; the first event of a customer whose segment is not scored yet (RFM switched
    on after its purchases; `apply_event` scores the tier before the event); where
    quantile bounds move or the ``rfm`` code is compared, an event at which the code
    scored now is not the one stored (what the timer waits for is exact already: the
    segment under the bounds it was armed with, the tier, the lots)."""
    if isinstance(event, Receipt) or event.type == "order":
        return True
    loyalty = rules.loyalty
    if loyalty.rfm is None or state.last_purchase_at is None:
        return False
    if state.rfm is None or rules.reads_code or loyalty.quantiles:
        return loyalty.scores(state, at)[0] != state.rfm
    return False


def fire_timer(
    state: CustomerState,
    name: str,
    due: float,
    customer_id: str,
    rules: Rules,
    notes: list[Note] | None = None,
) -> list[Action]:
    """A due timer of the customer: the step (or birthday entry) it stands for, now; or
    the next change of its standing (triggers.standing). A step whose conditions may
    compare the ``rfm`` code sees the standing brought to ``due`` first."""
    notes = [] if notes is None else notes
    interpreter = rules.interpreter
    actions: list[Action] = []
    if name == NEXT_CHANGE:
        take(state, name)
    elif not rules.reads_code:
        return list(interpreter.fire(state, customer_id, name, due, notes))
    signals = rules.loyalty.refresh(state, due, sketched=notes)
    if signals:
        actions += interpreter.signals(state, customer_id, signals, notes)
    if name != NEXT_CHANGE:
        actions += interpreter.fire(state, customer_id, name, due, notes)
    return actions


def conclude(
    state: CustomerState,
    candidate: Candidate,
    decision: Decision,
    rules: Rules,
    notes: list[Note] | None = None,
) -> list[Action]:
    """The policy's decision about a candidate; the steps that then fall due at once."""
    return [*rules.interpreter.conclude(state, candidate, decision, [] if notes is None else notes)]


def _products(lines: Collection[ReceiptLine]) -> dict[str, set[str]]:
    return {
        "category": {line.category for line in lines if line.category},
        "sku": {line.sku for line in lines},
    }


def _receipt(
    state: CustomerState,
    receipt: Receipt,
    at: float,
    rules: Rules,
    actions: list[Action],
    notes: list[Note],
) -> list[Signal]:
    loyalty = rules.loyalty
    percent = loyalty.accrual_percent(state, at)
    earned, spent, anomalies = apply_bonus(
        state,
        receipt,
        at,
        rules.accrual_percent if percent is None else percent,
        loyalty.multipliers,
        loyalty.expiry_s is not None,
    )
    actions += anomalies
    program = rules.program
    name = receipt.type if receipt.type == "return" else "purchase"
    sign = -1 if name == "return" else 1
    latest = record_purchase(state, receipt.total, receipt.lines, at, sign, loyalty.history_s)
    rules.interpreter.count_purchase(state, sign, receipt.total, at, notes)
    skus = _skus(receipt.lines) if program.recommends else ()
    if skus and sign > 0:
        record_bought(state, skus)
    if not program.uses(name):
        return []
    fields: dict[str, Any] = {
        "total": receipt.total,
        "store_id": receipt.store_id,
        "channel": receipt.channel,
    }
    if program.asks(name, *PRODUCT):
        fields.update(_products(receipt.lines))
    if name == "return":
        return [Signal(name, receipt.event_id, at, receipt.ts, fields, {}, skus)]
    fields.update(earned=earned, spent=spent, latest=latest)
    vars_: dict[str, Any] = {
        "earned": plain_number(earned),
        "spent": plain_number(spent),
        "receipt_id": receipt.receipt_id,
        "store_id": receipt.store_id,
        "total": plain_number(receipt.total),
        "currency": receipt.currency,
    }
    if name in program.lines_for:
        vars_["lines"] = _receipt_lines(receipt.lines)
    return [Signal(name, receipt.event_id, at, receipt.ts, fields, vars_, skus)]


def _skus(lines: Collection[ReceiptLine]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line.sku for line in lines))


def _receipt_lines(lines: Collection[ReceiptLine]) -> list[dict[str, Any]]:
    return [
        {
            "sku": line.sku,
            "category": line.category,
            "qty": plain_number(line.qty),
            "price": plain_number(line.price),
            "amount": plain_number(line.amount),
        }
        for line in lines
    ]


def _click(
    state: CustomerState,
    click: Click,
    at: float,
    rules: Rules,
    linked: CustomerState | None,
    notes: list[Note],
) -> list[Signal]:
    program = rules.program
    signals: list[Signal] = []
    if click.type in CLICK_SIGNALS and program.uses(click.type):
        signals.append(
            Signal(
                click.type,
                click.event_id,
                at,
                click.ts,
                _product(click),
                {},
                (click.sku,) if click.sku else (),  # none: recommendations start from the cart
            )
        )
    if click.type in CART_CHANGES:
        if change_cart(state, click, at):
            signals += _cart_signals(state, click.event_id, at, click.ts, click, program)
    elif click.type == "order":
        signals += _order(state, click, at, rules, notes)
    elif click.type == "login" and linked is not None:
        merge_views(state, linked)
        had_cart = bool(state.cart)
        if merge_cart(state, linked) and state.cart_cause and state.cart_changed_ts:
            changed_at = state.cart_changed_at or at
            # the device's cart alone is caused by its last change; joined to a cart the
            # customer had, it makes a new cart, caused by the login (a change of the
            # customer's own cart may have had its nudge already: one id per nudge)
            cause, ts = (
                (click.event_id, click.ts)
                if had_cart
                else (state.cart_cause, state.cart_changed_ts)
            )
            signals += _cart_signals(state, cause, changed_at, ts, None, program, at)
    elif click.type == "product_view" and program.views and click.sku:
        record_view(state, click.sku, click.category, at)
    return signals


def _product(click: Click) -> dict[str, set[str]]:
    return {"category": {click.category} if click.category else set(), "sku": {click.sku or ""}}


def _cart_products(state: CustomerState) -> dict[str, set[str]]:
    return {
        "category": {category for _q, _p, category in state.cart.values() if category},
        "sku": set(state.cart),
    }


def _cart_signals(
    state: CustomerState,
    event_id: str,
    at: float,
    ts: str,
    click: Click | None,
    program: Program,
    learned_at: float = 0.0,
) -> list[Signal]:
    """A cart change: cart_emptied, or cart_changed when the cart is news (changed after
    the latest purchase; triggers.cart.cart_is_news). ``click``: the click that changed it
    (its product is what ``where`` sees; None: a merge at login, the cart's own products,
    ``learned_at`` the login's time: an old cart's nudge falls due then, not in the past,
    and quiet hours judge it then). Its vars are the cart's when a step falls due
    (triggers.scenarios.vars), not now."""
    name = "cart_changed" if state.cart else "cart_emptied"
    if not program.uses(name) or (state.cart and not cart_is_news(state)):
        return []
    fields: dict[str, Any] = {}
    if program.asks(name, *PRODUCT):
        fields.update(_product(click) if click is not None else _cart_products(state))
    if program.asks(name, "total"):
        fields["total"] = round(sum(qty * price for qty, price, _c in state.cart.values()), 2)
    skus = tuple(state.cart) if program.recommends else ()
    return [Signal(name, event_id, at, ts, fields, {}, skus, learned_at)]


def _order(
    state: CustomerState, click: Click, at: float, rules: Rules, notes: list[Note]
) -> list[Signal]:
    if click.customer_id is None:  # an anonymous order empties the device's cart
        empty_cart(state)
        return []
    lines = click.lines or ()
    total = click.total or 0.0
    program = rules.program
    latest = record_purchase(state, total, lines, at, 1, rules.loyalty.history_s)
    rules.interpreter.count_purchase(state, 1, total, at, notes)
    skus = _skus(lines) if program.recommends else ()
    if skus:
        record_bought(state, skus)
    signals = []
    if program.uses("purchase"):
        fields: dict[str, Any] = {
            "total": total,
            "store_id": None,
            "channel": "online",
            "earned": 0.0,
            "spent": 0.0,
            "latest": latest,
        }
        if program.asks("purchase", *PRODUCT):
            fields.update(_products(lines))
        vars_: dict[str, Any] = {
            "total": plain_number(total),
            "store_id": None,
            "order_id": click.order_id,
        }
        if "purchase" in program.lines_for:
            vars_["lines"] = _receipt_lines(lines)
        signals.append(Signal("purchase", click.event_id, at, click.ts, fields, vars_, skus))
    if empty_cart(state) and program.uses("cart_emptied"):
        fields = _products(lines) if program.asks("cart_emptied", *PRODUCT) else {}
        signals.append(Signal("cart_emptied", click.event_id, at, click.ts, fields))
    return signals


def _customer(
    state: CustomerState, update: CustomerUpdate, at: float, rules: Rules
) -> list[Signal]:
    first_registration = state.registered_at is None and update.registered_at is not None
    apply_customer_update(state, update, at)
    first_registration = first_registration and rules.program.uses("registered")
    interpreter = rules.interpreter
    if interpreter.program.birthdays and (update.birthday or update.timezone):
        interpreter.arm_birthdays(state, at, again=True)
    registered = update.registered_at
    if first_registration and registered and epoch_of(registered) >= at - REGISTERED_WITHIN_S:
        return [Signal("registered", update.event_id, at, update.ts)]
    return []
