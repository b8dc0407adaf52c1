"""Timers in live mode: wall clock, no traffic needed, durable across a SIGKILL."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis

from smartcomms.config import TopicNames
from state.customers import CustomerStore
from tests.events import customer
from tests.live import (
    consume,
    env_for,
    produce,
    recovery_args,
    start_flow,
    stop_flow,
    wait_for_profiles,
)
from triggers.customer import DAY

SHORT_CART = {
    "SMARTCOMMS_TRIGGERS__ABANDONED_CART__DELAY_MINUTES": "0.1",  # 6 s
    # the test may run at any hour: quiet hours would hold the nudge to 09:00 Moscow time
    "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",
}


def profiles(count: int) -> list[dict]:
    return [
        customer(
            f"C{n}",
            contacts={"push_token": "t"},
            consents={"push": True},
            ts="2026-01-01T00:00:00+00:00",
        )
        for n in range(count)
    ]


def cart_add(n: int, at: datetime) -> dict:
    return {
        "event_id": f"add-{n}",
        "type": "add_to_cart",
        "ts": at.isoformat(),
        "anonymous_id": f"D{n}",
        "customer_id": f"C{n}",
        "sku": "kettle",
        "price": 1990.0,
    }


def test_due_cart_fires_within_a_second_without_traffic(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str
) -> None:
    proc = start_flow(env_for(kafka_brokers, redis_url, topics, prefix, **SHORT_CART))
    try:
        produce(kafka_brokers, topics.customers, profiles(1))
        wait_for_profiles(redis_url, prefix, 1)
        produce(kafka_brokers, topics.clicks, [cart_add(0, datetime.now(UTC))])
        [message] = consume(kafka_brokers, topics.notices, expected=1)  # no traffic after it
    finally:
        stop_flow(proc)
    notice = orjson.loads(message.value())
    assert notice["trigger"] == "abandoned_cart"
    late = (
        datetime.fromisoformat(notice["created_at"]) - datetime.fromisoformat(notice["due_ts"])
    ).total_seconds()
    assert 0 <= late <= 1.0


def test_sigkill_and_restart_with_more_workers_fires_every_timer_once(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str, tmp_path: Path
) -> None:
    customers = 30
    env = env_for(kafka_brokers, redis_url, topics, prefix, **SHORT_CART)
    recovery = recovery_args(tmp_path / "recovery")

    first = start_flow(env, ["-w", "1", *recovery])
    produce(kafka_brokers, topics.customers, profiles(customers))
    wait_for_profiles(redis_url, prefix, customers)
    now = datetime.now(UTC)
    # due times spread over the next 1.5 .. 6 s
    adds = [cart_add(n, now - timedelta(seconds=0.15 * n)) for n in range(customers)]
    produce(kafka_brokers, topics.clicks, adds)
    time.sleep(3.5)  # some timers have fired, some are pending
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)

    second = start_flow(env, ["-w", "2", *recovery])
    try:
        messages = consume(kafka_brokers, topics.notices, expected=customers, settle_s=4)
    finally:
        stop_flow(second)

    notices = [orjson.loads(m.value()) for m in messages]
    assert {n["caused_by"] for n in notices} == {a["event_id"] for a in adds}
    assert len({n["notice_id"] for n in notices}) == customers
    client = redis.Redis.from_url(redis_url)
    states = CustomerStore(client, prefix, 0).load(f"c:C{n}" for n in range(customers))
    windows = {}
    for subject, state in states.items():  # each timer fired exactly once in the state too
        assert len(state.sent) == 1
        # what is left is the nudge's attribution window (7 days): a purchase may convert it
        [(name, until)] = state.timers.items()
        assert name == "abandoned_cart" and until == pytest.approx(
            state.sent[0][0] + 7 * DAY, abs=1
        )
        windows[subject] = until
    indexed = {}
    for key in client.keys(f"{prefix}:timers:*"):
        indexed.update({m.decode(): s for m, s in client.zrange(key, 0, -1, withscores=True)})
    for key in client.keys(f"{prefix}:later:*"):  # the day lists of far dues (state.timers)
        for entry in client.lrange(key, 0, -1):
            due, subject = entry.decode().split(" ", 1)
            indexed[subject] = float(due)
    assert indexed == pytest.approx(windows)  # the index has nothing else
    client.close()
