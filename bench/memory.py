"""Redis memory per customer for a typical profile, through the real engine.

    python bench/memory.py [--customers 1000000] [--receipts 3]

Each customer gets the synthetic generator's profile (contacts, consents, timezone, ...)
and --receipts receipts, applied by the live engine's processor (so the state is exactly
what production stores: the profile document, the dedup window, rolling aggregates, the
win-back timer and its index entry, and the recent-decisions log). Reports Redis
used_memory growth per customer, split into the profile document and the decision log.
"""

from __future__ import annotations

import argparse
import time

import orjson
import redis
from common import ROOT  # noqa: F401  (puts the project on sys.path)

from flows.clock import WallClock
from flows.stats import Stats
from flows.wiring import processor_factory
from smartcomms.config import Settings
from smartcomms.localstack import redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from triggers.events import Event, Rejection, parse_event

BATCH = 2_000


def fill(url: str, customers: int, receipts: int) -> float:
    """Apply every customer's events; returns the seconds it took."""
    settings = Settings.model_validate(
        {"redis": {"url": url, "prefix": "m"}, "log": {"level": "warning"}}
    )
    configure_logging(settings.log)  # a suppression per unreachable customer is not news
    processor = processor_factory(settings, url, WallClock(), Stats(), live=True)()
    traffic = TrafficGenerator(customers=customers, anonymous_share=0.0, realtime=True)
    started = time.perf_counter()
    for first in range(0, customers, BATCH):
        events: list[Event] = []
        for n in range(first, min(first + BATCH, customers)):
            raw = [traffic.profile(n)] + [traffic.receipt() for _ in range(receipts)]
            for event in raw:
                if event["type"] == "receipt":
                    event["customer_id"] = f"C{n:07d}"  # spread receipts over everyone
                parsed = parse_event(orjson.dumps(event))
                assert not isinstance(parsed, Rejection), parsed
                events.append(parsed)
        processor.process("0", events)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--receipts", type=int, default=3)
    args = parser.parse_args()
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        before = int(client.info("memory")["used_memory"])
        seconds = fill(url, args.customers, args.receipts)
        for key in client.scan_iter("m:outbox:*"):  # drained as Kafka confirms, in production
            client.delete(key)
        after = int(client.info("memory")["used_memory"])
        sample = [f"C{n:07d}" for n in range(0, args.customers, max(1, args.customers // 1000))]
        profile = [client.memory_usage(f"m:c:{{{c}}}") or 0 for c in sample]
        history = [client.memory_usage(f"m:h:{{{c}}}") or 0 for c in sample]
        doc = [client.strlen(f"m:c:{{{c}}}") for c in sample]
        client.close()
    per_customer = (after - before) / args.customers
    print(f"customers: {args.customers:,}, receipts each: {args.receipts}, fill {seconds:.0f} s")
    print(f"Redis used_memory growth per customer: {per_customer:,.0f} B")
    profile_b, history_b, json_b = (sum(v) / len(sample) for v in (profile, history, doc))
    print(f"  profile document: {profile_b:,.0f} B (JSON {json_b:,.0f} B)")
    print(f"  decision log (trace --customer, 30 days): {history_b:,.0f} B")
    print(f"  the rest (timer index, key tables): {per_customer - profile_b - history_b:,.0f} B")


if __name__ == "__main__":
    main()
