"""Live traffic for fault runs: realistic events stamped with the wall clock, paced, with a
schedule that makes the outcome independent of how late a crashed worker catches up.

The live engine runs on the wall clock: a timer fires when its due time has passed, and a
worker that was down applies its backlog late. Two runs over the same input (a clean one
and one that is killed again and again) agree only where lateness cannot matter, so each
customer's state-changing events come in cycles of ``CYCLE_S``:

- at the customer's phase: cart changes, orders, logins within ``CLICKS_SPAN_S`` (topic
  ``clicks``, one partition per customer: always applied in order);
- the cart nudge is due ``CART_DELAY_S`` after the last cart change: a worker may lag
  that long behind without firing it before a later change of the same burst;
- ``RECEIPTS_AT_S`` later, after the nudge: receipts (in both runs the due timer fires
  before a later receipt is applied, however late), and ``PROFILE_UPDATES_AT_S`` later:
  profile updates; both on other topics, far from the events they could overtake.

Browsing (page and product views, carts of anonymous devices that never log in) and
malformed messages come at any time: they change nothing that depends on order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from smartcomms.synthetic import CATALOGUE, TrafficGenerator

CYCLE_S = 80.0
PROFILES_SPAN_S = 5.0
CLICKS_SPAN_S = 2.0
CART_DELAY_S = 30.0
"""the abandoned-cart delay the flows under test run with"""
RECEIPTS_AT_S = 40.0
PROFILE_UPDATES_AT_S = 58.0
BAD = (
    b"{not json %d",
    b'{"event_id":"","type":"receipt","n":%d}',
    b'{"event_id":"x%d","type":"teleport","ts":"2026-11-22T10:00:00+03:00"}',
    b'{"event_id":"y%d","type":"add_to_cart","ts":"yesterday","anonymous_id":"d"}',
    b"\xff\xfe broken utf-8 %d",
)
"""malformed messages, each made unique by a number"""


@dataclass(order=True)
class Planned:
    """One message of the schedule: when (seconds after the start), where, what."""

    at: float
    seq: int
    topic: str = field(compare=False)
    key: bytes | None = field(compare=False)
    event: dict[str, Any] | bytes = field(compare=False)
    """an event (stamped with ``ts`` when sent) or a malformed message as it is"""


class PacedTraffic:
    """The schedule of ``count`` messages at ``rate`` per second (see the module)."""

    def __init__(self, count: int, rate: float, seed: int = 1, bad_share: float = 0.01) -> None:
        self._rng = random.Random(seed)
        self._synthetic = TrafficGenerator(customers=1, seed=seed)
        self._seq = 0
        cycles = max(1, round(count / rate / CYCLE_S))  # the schedule spans whole cycles
        # about a third of the messages change a known customer's state: ~1.5 per cycle
        self.customers = max(10, int(count * 0.3 / (1.5 * cycles)))
        self.plan: list[Planned] = []
        self._profiles()
        for cycle in range(cycles):
            for n in range(self.customers):
                self._cycle(n, cycle * CYCLE_S + self._phase(n))
        while len(self.plan) < count:
            at = self._rng.uniform(0, cycles * CYCLE_S)
            if self._rng.random() < bad_share / (1 - 0.3):
                self._add(at, "clicks", None, self._rng.choice(BAD) % len(self.plan))
            else:
                self._browse(at)
        self.plan.sort()
        self.bad = [p.event for p in self.plan if isinstance(p.event, bytes)]
        self.last_at = self.plan[-1].at

    def _phase(self, n: int) -> float:
        return random.Random(n).uniform(PROFILES_SPAN_S + 1, CYCLE_S - PROFILE_UPDATES_AT_S)

    def _id(self, kind: str) -> str:
        self._seq += 1
        return f"{kind}-{self._seq}"

    def _add(self, at: float, topic: str, key: str | None, event: dict[str, Any] | bytes) -> None:
        self.plan.append(Planned(at, len(self.plan), topic, key.encode() if key else None, event))

    def _profiles(self) -> None:
        for n in range(self.customers):
            profile = self._synthetic.profile(n)
            profile["customer_id"] = f"C{n}"
            self._add(self._rng.uniform(0, PROFILES_SPAN_S), "customers", f"C{n}", profile)

    def _line(self) -> tuple[str, str, float]:
        category = self._rng.choice(tuple(CATALOGUE))
        sku, price = self._rng.choice(CATALOGUE[category])
        return sku, category, price

    def _click(self, kind: str, customer: str | None, device: str, **fields: Any) -> dict:
        return {
            "event_id": self._id("k"),
            "type": kind,
            "anonymous_id": device,
            "customer_id": customer,
            **fields,
        }

    def _cycle(self, n: int, start: float) -> None:
        rng, customer, device = self._rng, f"C{n}", f"W{n}"  # W: never has a cart of its own
        at = start
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 3)):
                sku, category, price = self._line()
                add = self._click("add_to_cart", customer, device, sku=sku, category=category)
                self._add(at, "clicks", customer, {**add, "price": price, "qty": 1})
                at += rng.uniform(0.05, CLICKS_SPAN_S / 4)
            if rng.random() < 0.2:
                removal = self._click("remove_from_cart", customer, device, sku=sku, qty=1)
                self._add(at, "clicks", customer, removal)
        if rng.random() < 0.1:
            lines = [{"sku": s, "category": c, "qty": 1, "price": p, "amount": p}
                     for s, c, p in (self._line(), self._line())]  # fmt: skip
            total = round(sum(line["amount"] for line in lines), 2)
            order = self._click("order", customer, device, order_id=self._id("o"))
            self._add(
                start + CLICKS_SPAN_S, "clicks", customer, {**order, "lines": lines, "total": total}
            )
        if rng.random() < 0.05:
            login = self._click("login", customer, device)
            self._add(start + CLICKS_SPAN_S, "clicks", customer, login)
        later = start + RECEIPTS_AT_S
        if rng.random() < 0.4:
            receipt = self._synthetic.receipt()
            receipt.update(event_id=self._id("r"), customer_id=customer)
            self._add(later + rng.uniform(0, 1), "receipts", customer, receipt)
        if rng.random() < 0.05:
            profile = self._synthetic.profile(n)
            profile.update(event_id=self._id("p"), customer_id=customer)
            self._add(start + PROFILE_UPDATES_AT_S, "customers", customer, profile)

    def _browse(self, at: float) -> None:
        rng = self._rng
        device = f"A{rng.randrange(5000)}"
        customer = f"C{rng.randrange(self.customers)}" if rng.random() < 0.5 else None
        sku, category, price = self._line()
        kind = rng.choice(("page_view", "page_view", "product_view", "add_to_cart"))
        if kind == "add_to_cart":
            customer = None  # an anonymous device's own cart (it never logs in)
        event = self._click(kind, customer, device)
        if kind != "page_view":
            event.update(sku=sku, category=category, price=price)
        self._add(at, "clicks", customer or device, event)

    def stream(
        self,
        send: Callable[[str, bytes | None, bytes], None],
        stop: threading.Event | None = None,
    ) -> float:
        """Send the schedule in real time, each event stamped ``ts`` = now; returns the
        wall time (epoch s) of the schedule's start."""
        started = time.time()
        for planned in self.plan:
            if stop is not None and stop.is_set():
                break
            wait = started + planned.at - time.time()
            if wait > 0:
                time.sleep(wait)
            value = planned.event
            if isinstance(value, dict):
                now = datetime.now(UTC).isoformat(timespec="milliseconds")
                value = orjson.dumps({**value, "ts": now})
            send(planned.topic, planned.key, value)
        return started
