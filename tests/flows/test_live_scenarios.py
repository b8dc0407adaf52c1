"""A scenario chain in the live flow: steps fire from wall-clock timers without traffic, and a
SIGKILL between steps (resumed with recovery) loses and doubles nothing."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import redis

from smartcomms.config import TopicNames
from state.customers import CustomerStore
from tests.events import customer, receipt
from tests.live import consume, env_for, produce, recovery_args, start_flow, stop_flow
from triggers import decisions
from triggers.notices import step_notice_id
from triggers.scenarios.instances import Instance

CHAIN = {
    "SMARTCOMMS_SCENARIOS__CHAIN": (
        "{entry: {on: purchase}, reentry_days: null, steps: ["  # null: the ended one stays
        "{id: now, template: win_back, vars: {offer: a}},"
        "{id: soon, after: 3s, template: win_back, vars: {offer: b}},"
        "{id: later, after: 8s, template: win_back, vars: {offer: c}}]}"
    ),
    "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",  # the test may run at any hour
    "SMARTCOMMS_CAPS__MARKETING": "{}",  # three messages in seconds: no caps
    "SMARTCOMMS_SCENARIOS__WIN_BACK__ENABLED": "false",
}
CUSTOMERS = 12
STEPS = ("now", "soon", "later")


def test_a_chain_fires_on_the_wall_clock_across_a_sigkill(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str, tmp_path: Path
) -> None:
    env = env_for(kafka_brokers, redis_url, topics, prefix, **CHAIN)
    recovery = recovery_args(tmp_path / "recovery")
    profiles = [
        customer(
            f"C{n}",
            contacts={"push_token": "t"},
            consents={"push": True},
            ts="2026-01-01T00:00:00+00:00",
        )
        for n in range(CUSTOMERS)
    ]
    first = start_flow(env, recovery)
    produce(kafka_brokers, topics.customers, profiles)
    time.sleep(1.5)
    now = datetime.now(UTC).isoformat()
    receipts = [receipt(f"r{n}", f"C{n}", 10.0, ts=now) for n in range(CUSTOMERS)]
    produce(kafka_brokers, topics.receipts, receipts)
    time.sleep(5)  # "now" and "soon" are out, "later" is due in ~3 s
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)

    second = start_flow(env, recovery)
    try:
        messages = consume(kafka_brokers, topics.notices, expected=3 * CUSTOMERS, settle_s=4)
    finally:
        stop_flow(second)
    chain = [orjson.loads(m.value()) for m in messages]
    chain = [n for n in chain if n["trigger"] == "chain"]
    expected = {
        step_notice_id("chain", f"C{n}", f"r{n}", step, step == "now")
        for n in range(CUSTOMERS)
        for step in STEPS
    }
    assert {n["notice_id"] for n in chain} == expected  # nothing lost
    by_id: dict[str, dict] = {}
    for notice in chain:  # a repeat on the topic after the crash is the same notice
        notice.pop("created_at")
        assert by_id.setdefault(notice["notice_id"], notice) == notice
    for notice in by_id.values():
        late = time.time() - datetime.fromisoformat(notice["due_ts"]).timestamp()
        assert late >= 0  # never early
    client = redis.Redis.from_url(redis_url)
    states = CustomerStore(client, prefix, 0).load(f"c:C{n}" for n in range(CUSTOMERS))
    client.close()
    for state in states.values():  # each step decided once, in the state too
        decided = [
            (entry[5], entry[2]) for entry in decisions.entries(state) if entry[1] == "chain"
        ]
        assert decided == [(step, "emitted") for step in STEPS]
        assert Instance(state.instances["chain"]).ended == "done"
        # left: its attribution window (7 days after the last step), nothing else
        [(name, until)] = state.timers.items()
        last = max(at for _step, _code, at in Instance(state.instances["chain"]).outcomes)
        assert name == "chain" and until == pytest.approx(last + 7 * 86_400, abs=1)
