"""Realistic synthetic traffic: customer profiles, store and online receipts, web behaviour.

Deterministic for a seed (unless ``realtime``: event time is then the wall clock). Yields
``(topic_role, key, value)`` where topic_role is ``receipts``, ``clicks`` or ``customers``;
every customer's profile comes before their first purchase. A small share of malformed
messages (``bad_rate``) exercises the dead letters.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from triggers.events import CLICK_TYPES

FIRST_NAMES = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Ирина",
    "Алексей",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Иван",
    "Михаил",
    "Татьяна",
    "Светлана",
    "Павел",
    "Юлия",
)
TIMEZONES = ("Europe/Moscow",) * 6 + (
    "Asia/Yekaterinburg",
    "Asia/Novosibirsk",
    "Europe/Kaliningrad",
    "Asia/Vladivostok",
)
CATALOGUE = {
    "молочные продукты": [("milk-1l", 89.9), ("kefir-1l", 95.5), ("cheese-200", 249.0)],
    "хлеб": [("bread-white", 54.0), ("bread-rye", 62.0), ("croissant", 79.0)],
    "овощи и фрукты": [("apples-kg", 129.0), ("bananas-kg", 119.0), ("tomatoes-kg", 239.0)],
    "мясо": [("chicken-kg", 389.0), ("beef-kg", 749.0), ("sausages", 329.0)],
    "напитки": [("water-1.5", 49.0), ("juice-1l", 139.0), ("coffee-250", 459.0)],
    "бытовая химия": [("detergent", 599.0), ("dish-soap", 189.0), ("paper-towels", 229.0)],
    "электроника": [("headphones", 2990.0), ("power-bank", 1990.0), ("usb-cable", 490.0)],
}
CATEGORIES = tuple(CATALOGUE)
STORES = tuple(f"S{n:03d}" for n in range(1, 41))
CLICK_WEIGHTS = {
    "page_view": 40,
    "product_view": 30,
    "add_to_cart": 12,
    "remove_from_cart": 4,
    "checkout_start": 3,
    "order": 2,
    "login": 3,
}
PAGES = ("/", "/catalog", "/promo", "/delivery", "/loyalty")
BAD_MESSAGES = (
    b"{not json",
    b'{"event_id":"","type":"receipt"}',
    b'{"event_id":"x1","type":"teleport","ts":"2026-11-22T10:00:00+03:00"}',
    b'{"event_id":"x2","type":"receipt","ts":"yesterday","receipt_id":"R","store_id":"S",'
    b'"total":10}',
    b'{"event_id":"x3","type":"add_to_cart","ts":"2026-11-22T10:00:00+03:00",'
    b'"anonymous_id":"d","qty":-2}',
)


Line = dict[str, Any]


def _total(lines: list[Line]) -> float:
    return round(sum(float(line["amount"]) for line in lines), 2)


@dataclass
class TrafficMix:
    """Relative weights of event kinds after the profiles are loaded."""

    receipt: float = 0.12
    click: float = 0.85
    profile_update: float = 0.03


class TrafficGenerator:
    """A deterministic stream of realistic retail events."""

    def __init__(
        self,
        customers: int = 5_000,
        seed: int = 7,
        start: datetime | None = None,
        bad_rate: float = 0.0,
        realtime: bool = False,
        anonymous_share: float = 0.2,
        mix: TrafficMix | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        self._customers = customers
        self._clock = start or datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
        self._realtime = realtime
        self._bad_rate = bad_rate
        self._anonymous_share = anonymous_share
        self._mix = mix or TrafficMix()
        self._seq = 0
        self._seed = seed
        self._balances: dict[str, float] = {}

    def _event_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seed}-{self._seq}"

    def _ts(self) -> str:
        if self._realtime:  # live traffic: event time is now
            self._clock = datetime.now(UTC)
        else:
            self._clock += timedelta(milliseconds=self._rng.randint(1, 40))
        return self._clock.isoformat(timespec="milliseconds")

    def _customer_id(self, n: int | None = None) -> str:
        return f"C{self._rng.randrange(self._customers) if n is None else n:07d}"

    def profile(self, n: int) -> dict[str, object]:
        """A customer profile with a realistic spread of contacts and consents."""
        rng = self._rng
        contacts: dict[str, str] = {}
        if rng.random() < 0.55:
            contacts["push_token"] = f"fcm:{rng.getrandbits(64):016x}"
        if rng.random() < 0.15:
            contacts["web_push"] = f"https://push.example/{rng.getrandbits(48):012x}"
        if rng.random() < 0.25:
            contacts["telegram_chat_id"] = str(rng.randrange(10**8, 10**10))
        if rng.random() < 0.35:
            contacts["viber_id"] = f"{rng.getrandbits(40):010x}=="
        if rng.random() < 0.2:
            contacts["whatsapp"] = f"+79{rng.randrange(10**9):09d}"
        if rng.random() < 0.85:
            contacts["phone"] = f"+79{rng.randrange(10**9):09d}"
        if rng.random() < 0.6:
            contacts["email"] = f"user{n}@example.ru"
        consents = {
            channel: rng.random() < 0.7
            for channel in ("push", "web_push", "telegram", "viber", "whatsapp", "sms", "email")
        }
        return {
            "event_id": self._event_id("cust"),
            "type": "customer",
            "ts": self._ts(),
            "customer_id": self._customer_id(n),
            "first_name": rng.choice(FIRST_NAMES),
            "timezone": rng.choice(TIMEZONES),
            "birthday": f"{rng.randrange(1950, 2006)}-{rng.randrange(1, 13):02d}-"
            f"{rng.randrange(1, 29):02d}",
            "registered_at": "2024-03-01T12:00:00+03:00",
            "contacts": contacts,
            "consents": consents,
        }

    def _lines(self, count: int) -> list[Line]:
        lines = []
        for _ in range(count):
            category = self._rng.choice(CATEGORIES)
            sku, price = self._rng.choice(CATALOGUE[category])
            qty = self._rng.choice((1, 1, 1, 2, 3))
            lines.append(
                {
                    "sku": sku,
                    "category": category,
                    "qty": qty,
                    "price": price,
                    "amount": round(price * qty, 2),
                }
            )
        return lines

    def receipt(self, customer: int | None = None) -> dict[str, object]:
        """A store or online receipt (by customer number ``customer`` if given, else by a
        random or no customer); the POS sends its own bonus figures on most of them."""
        rng = self._rng
        lines = self._lines(rng.randint(1, 8))
        total = _total(lines)
        known = rng.random() > self._anonymous_share or customer is not None
        event: dict[str, object] = {
            "event_id": self._event_id("rcpt"),
            "type": "receipt",
            "ts": self._ts(),
            "receipt_id": f"R{self._seq:09d}",
            "store_id": rng.choice(STORES),
            "customer_id": self._customer_id(customer) if known else None,
            "channel": "online" if rng.random() < 0.2 else "pos",
            "currency": "RUB",
            "total": total,
            "lines": lines,
        }
        if known and rng.random() < 0.7:  # the POS loyalty engine computed the bonus itself
            customer_id = str(event["customer_id"])
            balance = self._balances.get(customer_id, 0.0)
            spent = min(float(rng.choice((0, 0, 0, 50, 100, 200))), balance, total)
            earned = float(int(total * 0.05))
            self._balances[customer_id] = balance + earned - spent
            event["bonus"] = {
                "earned": earned,
                "spent": spent,
                "balance": self._balances[customer_id],
            }
        return event

    def click(self) -> dict[str, object]:
        """Browsing, carts, logins and orders; part of it anonymous."""
        rng = self._rng
        device = rng.randrange(self._customers * 2)
        customer = None if rng.random() < 0.4 else self._customer_id(device % self._customers)
        kind = rng.choices(CLICK_TYPES, [CLICK_WEIGHTS[t] for t in CLICK_TYPES])[0]
        event: dict[str, object] = {
            "event_id": self._event_id("clk"),
            "type": kind,
            "ts": self._ts(),
            "anonymous_id": f"D{device:08d}",
            "customer_id": self._customer_id(device % self._customers)
            if kind == "login"
            else customer,
            "session_id": f"sess-{device}-{self._seq // 50}",
        }
        if kind in ("product_view", "add_to_cart", "remove_from_cart"):
            line = self._lines(1)[0]
            event.update(sku=line["sku"], category=line["category"], price=line["price"])
            if kind != "product_view":
                event["qty"] = line["qty"]
        elif kind == "order":
            lines = self._lines(rng.randint(1, 5))
            event.update(
                order_id=f"O{self._seq:09d}",
                lines=lines,
                total=_total(lines),
            )
        elif kind == "page_view":
            event["page"] = rng.choice(PAGES)
        return event

    def events(
        self, count: int | None = None, history: bool = False
    ) -> Iterator[tuple[str, bytes | None, bytes]]:
        """All profiles first (``history``: then one receipt per customer, so that every
        customer has bought before the mix starts), then a mixed stream; ``count`` None
        means endless."""
        produced = 0
        warm_up: list[tuple[str, Callable[[int], dict[str, object]]]] = [
            ("customers", self.profile)
        ]
        if history:
            warm_up.append(("receipts", self.receipt))
        for role, make in warm_up:
            for n in range(self._customers):
                if count is not None and produced >= count:
                    return
                yield self._encode(role, make(n))
                produced += 1
        mix = self._mix
        weights = (mix.receipt, mix.click, mix.profile_update)
        while count is None or produced < count:
            produced += 1
            if self._bad_rate and self._rng.random() < self._bad_rate:
                yield "clicks", None, self._rng.choice(BAD_MESSAGES)
                continue
            kind = self._rng.choices(("r", "c", "p"), weights)[0]
            if kind == "r":
                yield self._encode("receipts", self.receipt())
            elif kind == "c":
                yield self._encode("clicks", self.click())
            else:
                yield self._encode("customers", self.profile(self._rng.randrange(self._customers)))

    @staticmethod
    def _encode(role: str, event: dict[str, object]) -> tuple[str, bytes | None, bytes]:
        key = event.get("customer_id") or event.get("anonymous_id") or event.get("receipt_id")
        return role, str(key).encode(), orjson.dumps(event)
