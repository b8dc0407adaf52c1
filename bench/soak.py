"""Soak: the live flow at a steady rate for a long time; do memory and throughput stay flat?

    python bench/soak.py [--minutes 30] [--customers 1000000] [--rate 3000] [--warmup 10]

Starts a local Redis and broker, loads --customers profiles and one purchase each (a
loyalty base has bought before: without it, every customer's first purchase in the run
would still be enriching a bare profile at the end of it), then streams the synthetic mix
(receipts, carts, orders, logins, browsing, profile updates) at --rate events/s into one
live flow process for --minutes. Every 10 s it samples the worker's RSS, Redis
``used_memory`` and the events the flow has applied (its /metrics). After --warmup minutes
it fits a line to each and prints the slopes, and the throughput per minute.

Time runs faster for the state than for the wall clock, so that the soak reaches the
steady state a month of traffic would: the dedup window, anonymous devices' lifetime, the
decision log and the win-back delay are minutes, not days (--window-minutes), carts are
nudged after 2 minutes. Without that, 30 minutes would only show the first half hour of a
7-day window filling up.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
import urllib.request

import redis
from common import ROOT  # noqa: F401  (puts the project on sys.path)
from confluent_kafka import Producer

from smartcomms.config import TopicNames
from smartcomms.kafka import produce_waiting, producer_config
from smartcomms.localstack import free_port, kafka_broker, redis_server
from smartcomms.synthetic import TrafficGenerator
from smartcomms.topics import ensure_topics

PARTITIONS = 3
SAMPLE_S = 10.0


def flow_env(brokers: str, redis_url: str, port: int, window_minutes: float) -> dict[str, str]:
    days = window_minutes / 1440
    return {
        **os.environ,
        "SMARTCOMMS_KAFKA__BROKERS": brokers,
        "SMARTCOMMS_REDIS__URL": redis_url,
        "SMARTCOMMS_LOG__LEVEL": "warning",
        "SMARTCOMMS_OBSERVABILITY__PORT": str(port),
        "SMARTCOMMS_ENGINE__DEDUP_WINDOW_DAYS": str(days),
        "SMARTCOMMS_ENGINE__ANONYMOUS_TTL_DAYS": str(days),
        "SMARTCOMMS_TRIGGERS__WIN_BACK__AFTER_DAYS": str(days),
        "SMARTCOMMS_ENGINE__DECISION_LOG_DAYS": str(days),
        "SMARTCOMMS_TRIGGERS__ABANDONED_CART__DELAY_MINUTES": "2",
        "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",
    }


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def applied_events(port: int) -> float:
    """smartcomms_events_total summed over types, from the flow's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("smartcomms_events_total{")
    )


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def stream(
    brokers: str, customers: int, rate: float, stop: threading.Event, produced: list[int]
) -> None:
    """All profiles and first purchases as fast as they go, then the mix at ``rate`` until
    ``stop``; ``produced[0]`` counts what librdkafka accepted."""
    topics = TopicNames()
    by_role = {"receipts": topics.receipts, "clicks": topics.clicks, "customers": topics.customers}
    # 100 ms batches: the local broker slows down as its topics fill with small batches
    # (tests/faults/harness.py); the flow's own producers keep the product's settings
    producer = Producer(producer_config(brokers, {"linger.ms": "100"}))
    generator = TrafficGenerator(customers=customers, seed=21, realtime=True, bad_rate=0.001)
    started, sent = 0.0, 0
    for role, key, value in generator.events(None, history=True):
        if stop.is_set():
            break
        produce_waiting(producer, by_role[role], value, key)
        produced[0] += 1
        sent += 1
        if sent == 2 * customers:  # profiles and purchases are out: steady traffic from now on
            started, sent = time.monotonic(), 0
        elif started and sent % 100 == 0:
            producer.poll(0)
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=3000)
    parser.add_argument("--warmup", type=float, default=10, help="minutes left out of the fit")
    parser.add_argument("--window-minutes", type=float, default=5)
    args = parser.parse_args()
    with redis_server() as redis_url, kafka_broker() as brokers:
        topics = TopicNames()
        ensure_topics(brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 3, {})
        port = free_port()
        flow = subprocess.Popen(
            [sys.executable, "-m", "bytewax.run", "flows.live:flow"],
            env=flow_env(brokers, redis_url, port, args.window_minutes),
        )
        client = redis.Redis.from_url(redis_url)
        stop, produced = threading.Event(), [0]
        producer = threading.Thread(
            target=stream, args=(brokers, args.customers, args.rate, stop, produced), daemon=True
        )
        producer.start()
        samples: list[tuple[float, int, int, float]] = []
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < args.minutes * 60:
                time.sleep(SAMPLE_S)
                memory = int(client.info("memory")["used_memory"])
                samples.append((elapsed, rss_bytes(flow.pid), memory, applied_events(port)))
                print(
                    f"{elapsed / 60:5.1f} min  worker RSS {samples[-1][1] / 2**20:7.1f} MiB  "
                    f"Redis {memory / 2**20:7.1f} MiB  applied {samples[-1][3]:12,.0f}  "
                    f"produced {produced[0]:12,}",
                    flush=True,
                )
        finally:
            stop.set()
            producer.join(60)
            flow.terminate()
            flow.wait(60)
            client.close()
    report(samples, args.warmup * 60)


def report(samples: list[tuple[float, int, int, float]], warmup_s: float) -> None:
    steady = [s for s in samples if s[0] >= warmup_s]
    if len(steady) < 3:
        print("too short to fit a line after the warm-up")
        return
    minutes = (steady[-1][0] - steady[0][0]) / 60
    rss = slope([(t / 60, r / 2**20) for t, r, _m, _e in steady])
    mem = slope([(t / 60, m / 2**20) for t, _r, m, _e in steady])
    mean_rss = sum(r for _t, r, _m, _e in steady) / len(steady) / 2**20
    mean_mem = sum(m for _t, _r, m, _e in steady) / len(steady) / 2**20
    rates = [(b[3] - a[3]) / (b[0] - a[0]) for a, b in itertools.pairwise(steady)]
    mean_rate = sum(rates) / len(rates)
    spread = (sum((r - mean_rate) ** 2 for r in rates) / len(rates)) ** 0.5
    print(f"after the warm-up ({minutes:.0f} min fitted):")
    print(f"  worker RSS: mean {mean_rss:,.1f} MiB, slope {rss:+.2f} MiB/min "
          f"({rss / mean_rss * 100:+.2f} %/min)")  # fmt: skip
    print(f"  Redis used_memory: mean {mean_mem:,.1f} MiB, slope {mem:+.2f} MiB/min "
          f"({mem / mean_mem * 100:+.2f} %/min)")  # fmt: skip
    print(f"  applied events: {mean_rate:,.0f} ev/s, std dev over 10 s samples {spread:,.0f}")


if __name__ == "__main__":
    main()
