"""The rolling profile of one customer (or one anonymous device) and how events change it.

Pure data and functions: no I/O. `state/` stores a `CustomerState` as one JSON document per
customer, so every field here is plain JSON (str, number, list, dict); its JSON form has
short keys and leaves out defaults (`JSON_KEYS`: the document is the bulk of Redis memory).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import msgspec

from triggers.events import CONTACT_CHANNEL, CustomerUpdate, ReceiptLine

DAY = 86_400.0
HISTORY_S = 365 * DAY
"""Purchase history is kept this long by default (the 30/90/365-day aggregates, RFM);
longer where a loyalty tier window needs it (triggers.engine.Rules.history_s)."""
MAX_PURCHASES = 400
"""purchase times kept per customer: beyond, the two oldest merge (at the later time)"""
TOP_CATEGORIES = 20
CHANNELS = frozenset(CONTACT_CHANNEL.values())
JSON_KEYS: dict[str, str] = {
    "first_name": "n",
    "timezone": "z",
    "birthday": "b",
    "registered_at": "r",
    "contacts": "c",
    "consents": "o",
    "balance": "B",
    "last_purchase_at": "p",
    "purchases": "d",
    "category_spend": "g",
    "seen": "s",
    "cart": "k",
    "cart_changed_at": "ka",
    "cart_cause": "kc",
    "cart_changed_ts": "kt",
    "timers": "t",
    "held": "h",
    "sent": "x",
    "log": "l",
    "instances": "i",
    "viewed": "w",
    "bought": "u",
    "rfm": "R",
    "tier": "T",
    "lots": "L",
    "sketched": "K",
    "consents_at": "O",
}
"""field -> its key in the state's JSON form (every field, in the order written; the
stored format, state.codec, depends on both: never change a key)"""
Number = int | float
"""whole amounts and counts are written as integers (fewer bytes), others as floats"""


class CustomerState(msgspec.Struct, rename=JSON_KEYS, omit_defaults=True, gc=False):
    """Everything the engine knows of one subject, as stored in Redis.

    A msgspec struct: its JSON form (`to_bytes`) is made and read in C. Nothing in it
    refers back to it, so the garbage collector does not track it (its lists and dicts
    are tracked as usual)."""

    first_name: str | None = None
    timezone: str | None = None
    birthday: str | None = None
    registered_at: str | None = None
    contacts: dict[str, str] = {}
    """contact field (``phone``, ``push_token``, ...) -> value"""
    consents: dict[str, bool] = {}
    """channel -> marketing consent"""
    balance: float = 0.0
    """bonus balance: the POS figure when it sends one, else our running sum"""
    last_purchase_at: float | None = None
    """event time (epoch s) of the latest receipt or order"""
    purchases: list[list[Number]] = []
    """``[at, purchases, spend]`` per purchase (or return) time, oldest first, as long as
    a window needs them: windows are exact, (now - N days, now]"""
    category_spend: dict[str, float] = {}
    """lifetime spend per category, the top categories only"""
    seen: dict[str, Number] = {}
    """digest of an applied event_id -> engine time it was applied (dedup window)"""
    cart: dict[str, list[Any]] = {}
    """sku -> [qty, price, category], in the order first added"""
    cart_changed_at: float | None = None
    """event time of the latest cart change; with its event id and ts as sent"""
    cart_cause: str | None = None
    cart_changed_ts: str | None = None
    timers: dict[str, float] = {}
    """timer name (a scenario, for its running instance's next step) -> due, event time
    epoch s"""
    held: list[str] = []
    """timers currently moved to the end of quiet hours"""
    sent: list[list[Any]] = []
    """marketing notices of the cap window: ``[due, trigger, channels]``, oldest first"""
    log: list[msgspec.Raw] = []
    """recent decisions ``[at, trigger, outcome, notice_id, detail]``, oldest first, each
    as its JSON (live mode only; see triggers.decisions)"""
    instances: dict[str, list[Any]] = {}
    """scenario -> its running or last instance (triggers.scenarios.instances)"""
    viewed: list[list[Any]] = []
    """recent distinct product views ``[sku, category, at]``, oldest first (kept only
    where scenarios use them)"""
    bought: list[str] = []
    """products bought lately, oldest first (kept only where recommendations are shown:
    they leave out what the customer has)"""
    rfm: str | None = None
    """the RFM scores as last scored, ``"543"`` (segments.rfm configured; triggers.rfm)"""
    tier: str | None = None
    """the loyalty tier as last scored (loyalty.tiers configured; triggers.tiers)"""
    lots: list[list[Number]] = []
    """bonus lots of our own accrual that will expire: ``[earned_at, points]`` (a third
    item, 1: its expiry warning was given), oldest first (triggers.points)"""
    sketched: list[int] | None = None
    """its cell in the RFM histograms, quantile bounds only (triggers.rfm_quantiles)"""
    consents_at: dict[str, int] = {}
    """channel -> event time (whole seconds) of the profile update its consent is from,
    within the dedup window: the newest answer stands, whatever order updates arrive in"""

    def reachable_channels(self) -> set[str]:
        """Channels with a contact."""
        return {CONTACT_CHANNEL[kind] for kind, value in self.contacts.items() if value}


def shown_balance(state: CustomerState) -> float:
    """The bonus balance as a customer reads it: never below zero."""
    return max(0.0, state.balance)


_READ = msgspec.json.Decoder(CustomerState)
_NO_BALANCE = next(f.default for f in msgspec.structs.fields(CustomerState) if f.name == "balance")
"""the balance field's default itself: msgspec leaves out a float field only when it holds
that very object, not any zero"""


def to_bytes(state: CustomerState) -> bytes:
    """The state's JSON form (a restore point; `from_bytes` reads it back). Raises
    TypeError when a value cannot be encoded."""
    if state.balance == 0 and state.balance is not _NO_BALANCE:  # a zero is left out too
        state = msgspec.structs.replace(state, balance=_NO_BALANCE)
    return msgspec.json.encode(state)


def from_bytes(raw: bytes) -> CustomerState:
    """A state in the JSON form of `to_bytes`, sharing nothing with the one it was taken
    from; msgspec.ValidationError when a value is not of its field's type."""
    state = _READ.decode(raw)
    if state.log:  # a decoded entry refers into ``raw``: a copy does not keep it alive
        state.log = [entry.copy() for entry in state.log]
    return state


def apply_customer_update(state: CustomerState, update: CustomerUpdate, at: float) -> None:
    """Merge a profile update (event time ``at``) field by field: what the update leaves
    out keeps its value. A consent older than the one kept (an update arriving late, such
    as a CRM sync behind an opt-out made in the app) grants nothing: the newest answer
    stands (to the second; within the dedup window, triggers.dedup.forget_before), but a
    withdrawal holds whatever its time (a source whose clock runs ahead cannot keep a
    customer who opted out from opting out). Other fields take the update that arrived
    last; a name is kept without the blanks around it (one of blanks only is none:
    «, начислено…» greets nobody)."""
    if update.first_name is not None:
        state.first_name = update.first_name.strip()
    for name in ("timezone", "birthday", "registered_at"):
        value = getattr(update, name)
        if value is not None:
            setattr(state, name, value)
    if update.contacts is not None:
        for kind, value in update.contacts.given().items():
            if value == "":
                state.contacts.pop(kind, None)  # an empty string removes a contact
            else:
                state.contacts[kind] = value
    for channel, granted in (update.consents or {}).items():
        if channel not in CHANNELS:  # consent to a channel we do not know is not kept
            continue
        second, answered = round(at), state.consents_at.get(channel)
        if answered is None or second >= answered:
            state.consents[channel], state.consents_at[channel] = granted, second
        elif not granted:  # a withdrawal always holds: a clock ahead must not pin a grant
            state.consents[channel] = False


VIEWS_KEPT = 5
BOUGHT_KEPT = 20


def record_view(state: CustomerState, sku: str, category: str | None, at: float) -> None:
    """A product view: the latest few distinct products, each with its latest view (an
    older view arriving late, or merged in from a device at login, changes nothing of a
    product seen since)."""
    if any(view[0] == sku and view[2] >= at for view in state.viewed):
        return
    views = [view for view in state.viewed if view[0] != sku]
    views.append([sku, category, at])
    views.sort(key=lambda view: view[2])
    state.viewed = views[-VIEWS_KEPT:]


def merge_views(state: CustomerState, device: CustomerState) -> None:
    """Login: what was viewed anonymously on the device is the customer's from then on."""
    for sku, category, at in device.viewed:
        record_view(state, sku, category, at)
    device.viewed = []


def record_bought(state: CustomerState, skus: Sequence[str]) -> None:
    """Products bought: the latest few distinct ones."""
    bought = [sku for sku in state.bought if sku not in skus]
    bought.extend(dict.fromkeys(skus))
    state.bought = bought[-BOUGHT_KEPT:]


def record_purchase(
    state: CustomerState,
    total: float,
    lines: Sequence[ReceiptLine],
    at: float,
    sign: int,
    keep_s: float = HISTORY_S,
) -> bool:
    """Add a purchase (sign +1) or take a return (sign -1) into the purchase aggregates;
    purchases older than ``keep_s`` are let go.

    Returns True when this is now the customer's latest purchase.
    """
    history = state.purchases
    spend = round(sign * total, 2)
    if not history or history[-1][0] < at:
        history.append([at, sign, spend])
    else:  # the same time, or a late receipt: find or insert its time
        _add_to_past(history, at, sign, spend)
    forget_purchases(state, at, keep_s)
    if len(history) > MAX_PURCHASES:
        oldest, second = history[0], history[1]
        history[:2] = [[second[0], oldest[1] + second[1], round(oldest[2] + second[2], 2)]]
    for line in lines:
        if line.category:
            cat = state.category_spend
            cat[line.category] = round(cat.get(line.category, 0.0) + sign * line.amount, 2)
    if len(state.category_spend) > TOP_CATEGORIES:
        top = sorted(state.category_spend.items(), key=lambda kv: -kv[1])[:TOP_CATEGORIES]
        state.category_spend = dict(top)
    if sign > 0 and (state.last_purchase_at is None or at >= state.last_purchase_at):
        state.last_purchase_at = at
        return True
    return False


def forget_purchases(state: CustomerState, now: float, keep_s: float) -> None:
    """Let go of the purchases no window of ``keep_s`` holds at ``now`` any more."""
    history = state.purchases
    gone = 0
    while gone < len(history) and history[gone][0] + keep_s <= now:
        gone += 1
    if gone:
        del history[:gone]


def _add_to_past(history: list[list[float]], at: float, sign: int, spend: float) -> None:
    place = bisect.bisect_left(history, at, key=lambda entry: entry[0])
    if place < len(history) and history[place][0] == at:
        entry = history[place]
        entry[1] += sign
        entry[2] = round(entry[2] + spend, 2)
    else:
        history.insert(place, [at, sign, spend])


def purchase_totals(state: CustomerState, now: float, window_days: int) -> tuple[int, float]:
    """Number of purchases (net of returns) and spend in the window (now - N days, now]: a
    purchase leaves it at exactly its time + N days."""
    window_s = window_days * DAY
    count, spend = 0.0, 0.0
    for at, purchases, amount in state.purchases:
        if at + window_s > now:
            count += purchases
            spend += amount
    return int(count), round(spend, 2)
