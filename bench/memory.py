"""Redis memory per customer for a typical profile, through the real engine.

    python bench/memory.py [--customers 1000000] [--receipts 3] [--scenarios] [--loyalty]

Each customer gets the synthetic generator's profile (contacts, consents, timezone, ...)
and --receipts receipts, applied by the live engine's processor on the event-time clock,
so the state is exactly what production stores: the compressed profile document (with
the dedup window, rolling aggregates, cap window and recent decisions), the win-back
timer and its index entry, the shared category table. Two figures:

- *active*: right after the purchases: the dedup window is full and every customer has
  a pending win-back timer in the index;
- *at rest*: the clock moved on until every win-back fired and its attribution window
  passed (30 + 7 days; quiet-hour holds released): the dedup window has expired, no
  timer is pending. Most of a 10^7 base is in this state on any given day.

``--loyalty``: RFM, tiers and expiring bonuses on (``LOYALTY``); each receipt is of our
own accrual (no POS bonus) on a day of its own, so each customer keeps a lot per receipt
(two receipts: two lots), and at rest each has its next-change timer pending (the
lots' expiry).

Reports Redis ``used_memory`` growth per customer and its parts (``MEMORY USAGE`` of a
sample of documents; the timer index).

``--scenarios``: ten scenarios configured, the three built-ins and every recipe, and
every customer registered at their profile event: each then runs a welcome chain, a
retention chain, a cross-sell and a win-back. Three figures: *active* (as above),
*running* (15 days on: the dedup window expired, the welcome chain ended, retention and
win-back still wait for their steps) and *at rest* (60 days on: every chain ended and
was tidied; what stays is the yearly birthday timer, the welcome's "never again" and the
recent decisions).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime

import msgspec
import orjson
import redis
from common import ROOT  # noqa: F401  (puts the project on sys.path)

from flows.clock import ClockTick, EventTimeClock
from flows.processor import BatchProcessor
from flows.stats import Stats
from flows.wiring import processor_factory
from smartcomms.config import Settings
from smartcomms.localstack import redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from state.codec import document_parts
from triggers.customer import DAY
from triggers.events import Event, Rejection, epoch_of, parse_event
from triggers.scenarios.library import recipe_names

BATCH = 2_000
PREFIX = "m"
TIMER_INDEX = f"{PREFIX}:timers:{{0}}"
LATER_DAYS = f"{PREFIX}:later-days:{{0}}"


LOYALTY = {
    "segments": {"rfm": {}},
    "loyalty": {
        "tiers": [
            {"name": "base", "from_spend": 0, "accrual_percent": 3},
            {"name": "silver", "from_spend": 20000, "accrual_percent": 5},
            {"name": "gold", "from_spend": 60000, "accrual_percent": 7},
        ],
        "expiry_days": 365,
    },
}


def fill(
    processor: BatchProcessor, customers: int, receipts: int, register: bool, own_days: bool
) -> float:
    """Apply every customer's profile and receipts; returns the last event time.
    ``register``: each profile is a fresh registration (welcome chains start).
    ``own_days``: each receipt a day after the one before, without a POS bonus."""
    traffic = TrafficGenerator(customers=customers, anonymous_share=0.0)
    last = 0.0
    for first in range(0, customers, BATCH):
        events: list[Event] = []
        for n in range(first, min(first + BATCH, customers)):
            raw = [traffic.profile(n)] + [traffic.receipt() for _ in range(receipts)]
            if register:
                raw[0]["registered_at"] = raw[0]["ts"]
            for number, event in enumerate(raw):
                if event["type"] == "receipt":
                    event["customer_id"] = f"C{n:07d}"  # spread receipts over everyone
                if own_days and number:
                    event.pop("bonus", None)
                    at = epoch_of(str(raw[0]["ts"])) + number * DAY
                    event["ts"] = datetime.fromtimestamp(at, UTC).isoformat()
                parsed = parse_event(orjson.dumps(event))
                assert not isinstance(parsed, Rejection), parsed
                events.append(parsed)
        processor.process("0", events)
        last = epoch_of(events[-1].ts)
    return last


def rest(
    processor: BatchProcessor, client: redis.Redis, since: float, first: float, days: float
) -> None:
    """Move the clock on in steps from ``first`` days on, until no timer is pending or
    ``days`` have passed (every chain ended; a birthday timer is yearly)."""
    at = since + first * DAY
    while (client.zcard(TIMER_INDEX) or client.zcard(LATER_DAYS)) and at < since + days * DAY:
        at += 900  # 15 minutes of timers per batch
        processor.process("0", [ClockTick(at)])


class Meter:
    """Redis memory growth and its parts, per customer."""

    def __init__(self, client: redis.Redis, customers: int) -> None:
        self._client = client
        self._customers = customers
        self._before = self._used()
        step = max(1, customers // 1000)
        self._sample = [f"{PREFIX}:c:{{C{n:07d}}}" for n in range(0, customers, step)]

    def _used(self) -> int:
        return int(self._client.info("memory")["used_memory"])

    def report(self, title: str) -> None:
        client = self._client
        for key in client.scan_iter(f"{PREFIX}:outbox:*"):  # drained as Kafka confirms
            client.delete(key)
        per_customer = (self._used() - self._before) / self._customers
        docs = [client.memory_usage(key) or 0 for key in self._sample]
        stored = [client.strlen(key) for key in self._sample]
        index_keys = [TIMER_INDEX, *client.scan_iter(f"{PREFIX}:later*", count=1000)]
        index = sum(client.memory_usage(key) or 0 for key in index_keys) / self._customers
        doc, value = sum(docs) / len(docs), sum(stored) / len(stored)
        print(f"{title}: {per_customer:,.0f} B per customer (Redis used_memory growth)")
        print(f"  profile document: {doc:,.0f} B (stored value {value:,.0f} B)")
        rest = per_customer - doc - index
        print(f"  timer index (sorted set and day lists): {index:,.0f} B; ", end="")
        print(f"the rest (key tables, categories): {rest:,.0f} B")
        parts: Counter[str] = Counter()
        for key in self._sample:
            for name, part in document_parts(client.get(key) or b"").items():
                parts[name] += len(msgspec.json.encode(part))
        shown = ", ".join(f"{n} {b / len(self._sample):,.0f}" for n, b in parts.most_common(6))
        print(f"  document parts, uncompressed JSON B: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--receipts", type=int, default=3)
    parser.add_argument("--scenarios", action="store_true", help="ten scenarios configured")
    parser.add_argument("--loyalty", action="store_true", help="RFM, tiers and expiry on")
    parser.add_argument(
        "--decision-log-days", type=float, default=30, help="engine.decision_log_days"
    )
    args = parser.parse_args()
    scenarios = {name: {"recipe": name} for name in recipe_names()} if args.scenarios else {}
    with redis_server() as url:
        settings = Settings.model_validate(
            {
                "redis": {"url": url, "prefix": PREFIX},
                "log": {"level": "warning"},
                "scenarios": scenarios,
                "engine": {"decision_log_days": args.decision_log_days},
                **(LOYALTY if args.loyalty else {}),
            }
        )
        configure_logging(settings.log)  # a suppression per unreachable customer is not news
        processor = processor_factory(settings, url, EventTimeClock(), Stats(), live=True)()
        client = redis.Redis.from_url(url)
        meter = Meter(client, args.customers)
        started = time.perf_counter()
        last = fill(processor, args.customers, args.receipts, args.scenarios, args.loyalty)
        filled = time.perf_counter()
        print(f"customers: {args.customers:,}, receipts each: {args.receipts}")
        print(f"scenarios: {', '.join(sorted(settings.scenarios))}")
        meter.report(f"active (fill {filled - started:.0f} s)")
        if args.scenarios:
            rest(processor, client, last, 0, 15)
            meter.report(f"running (timers {time.perf_counter() - filled:.0f} s)")
            rest(processor, client, last, 15, 60)
        else:  # win-backs at 30 days, their attribution windows 7 days later
            rest(processor, client, last, 29, 38)
        meter.report(f"at rest (timers {time.perf_counter() - filled:.0f} s)")
        client.close()


if __name__ == "__main__":
    main()
