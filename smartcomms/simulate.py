"""Producing synthetic traffic to the input topics."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Producer

from smartcomms.config import Settings
from smartcomms.kafka import check_reachable, produce_waiting, producer_config
from smartcomms.synthetic import TrafficGenerator


def produce(
    settings: Settings,
    count: int,
    rate: float,
    customers: int,
    seed: int,
    bad_rate: float,
    stop: threading.Event | None = None,
) -> int:
    """Produce ``count`` events (0: until ``stop``) at ``rate`` ev/s (0: as fast as possible)."""
    check_reachable(settings.kafka.brokers, settings.kafka.client_config)
    topics = settings.kafka.topics
    by_role = {"receipts": topics.receipts, "clicks": topics.clicks, "customers": topics.customers}
    producer = Producer(producer_config(settings.kafka.brokers, settings.kafka.client_config))
    generator = TrafficGenerator(customers=customers, seed=seed, bad_rate=bad_rate, realtime=True)
    started = time.monotonic()
    sent = 0
    for role, key, value in generator.events(count or None):
        if stop is not None and stop.is_set():
            break
        produce_waiting(producer, by_role[role], value, key)
        sent += 1
        if rate and sent % 100 == 0:
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
            producer.poll(0)
    producer.flush(5 if stop is not None and stop.is_set() else 60)  # stopped: do not linger
    return sent
