"""Timer lateness in live mode with many pending carts.

    python bench/timers.py [--carts 100000] [--spread 30]

Starts a local Redis and broker and the live flow as its own process (ticks every 0.5 s),
loads --carts customers and one cart each whose 1-minute timers come due spread over
--spread seconds starting ~20 s later (all of them pending meanwhile), and reports how long
after its due time each notice was emitted (notice created_at - due_ts): p50, p99, max.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
from common import percentile
from confluent_kafka import Consumer, Producer

from smartcomms.config import Settings
from smartcomms.kafka import produce_waiting, producer_config
from smartcomms.localstack import kafka_broker, redis_server
from smartcomms.topics import assignments, ensure_topics

LEAD_S = 20


def load(settings: Settings, carts: int, spread_s: float) -> None:
    topics = settings.kafka.topics
    producer = Producer(producer_config(settings.kafka.brokers, {}))
    for n in range(carts):
        profile = {
            "event_id": f"p{n}",
            "type": "customer",
            "ts": "2026-01-01T00:00:00+00:00",
            "customer_id": f"C{n}",
            "contacts": {"push_token": "t"},
            "consents": {"push": True},
        }
        produce_waiting(producer, topics.customers, orjson.dumps(profile), f"C{n}".encode())
    producer.flush(120)
    first_due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    for n in range(carts):
        changed = first_due + timedelta(seconds=spread_s * n / carts) - timedelta(minutes=1)
        add = {
            "event_id": f"a{n}",
            "type": "add_to_cart",
            "ts": changed.isoformat(),
            "anonymous_id": f"D{n}",
            "customer_id": f"C{n}",
            "sku": "kettle",
            "price": 10.0,
        }
        produce_waiting(producer, topics.clicks, orjson.dumps(add), f"C{n}".encode())
    producer.flush(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--spread", type=float, default=30.0)
    args = parser.parse_args()
    with redis_server() as redis_url, kafka_broker() as brokers:
        settings = Settings.model_validate({"kafka": {"brokers": brokers}})
        topics = settings.kafka.topics
        ensure_topics(brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 3, {})
        env = {
            **os.environ,
            "SMARTCOMMS_KAFKA__BROKERS": brokers,
            "SMARTCOMMS_REDIS__URL": redis_url,
            "SMARTCOMMS_LOG__LEVEL": "warning",
            "SMARTCOMMS_OBSERVABILITY__PORT": "0",  # nothing scrapes a benchmark
            "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",
            "SMARTCOMMS_TRIGGERS__ABANDONED_CART__DELAY_MINUTES": "1",
        }
        flow = subprocess.Popen([sys.executable, "-m", "bytewax.run", "flows.live:flow"], env=env)
        try:
            started = time.monotonic()
            load(settings, args.carts, args.spread)
            print(f"loaded {args.carts} customers and carts in {time.monotonic() - started:.1f} s")
            lateness = collect(brokers, topics.notices, args.carts, LEAD_S + args.spread + 60)
        finally:
            flow.terminate()
            flow.wait(30)
    print(f"notices: {len(lateness)} of {args.carts}, tick interval 0.5 s")
    if lateness:
        print(
            f"timer lateness: p50 {percentile(lateness, 50) * 1000:.0f} ms, "
            f"p99 {percentile(lateness, 99) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms"
        )


def collect(brokers: str, topic: str, expected: int, timeout_s: float) -> list[float]:
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "bench", "fetch.wait.max.ms": 10}
    )
    consumer.assign(assignments(brokers, [topic]))
    lateness: list[float] = []
    deadline = time.monotonic() + timeout_s
    while len(lateness) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if not msg.error():
                notice = orjson.loads(msg.value())
                lateness.append(
                    (
                        datetime.fromisoformat(notice["created_at"])
                        - datetime.fromisoformat(notice["due_ts"])
                    ).total_seconds()
                )
    consumer.close()
    return lateness


if __name__ == "__main__":
    main()
