"""Worker crashes: the live flow is SIGKILLed again and again while a stream of mixed events
(carts coming due, receipts, orders, profile updates, browsing, malformed messages) goes
through it, restarted each time with recovery on. The first two runs die at the moments a
random kill seldom hits (flows/crashpoints.py): while due timers fire, and after a batch's
state is in Redis but before its notices are in Kafka; the rest at random moments. A clean
twin reads the same input.
Afterwards: the same notice ids with the same content (repeats allowed on the topic), each
notice sent once by the dispatcher, the same dead letters, the same state of every
customer and device.

Sizes: ``make test`` streams 60k events with 8 kills; ``make faults`` 200k with 24
(SMARTCOMMS_FAULTS_EVENTS, SMARTCOMMS_FAULTS_KILLS).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson

from state.connection import connect
from state.report import ReportCounters
from tests.faults.harness import (
    Supervised,
    flow_env,
    notices_by_id,
    read_topic,
    scale,
    states,
    stream_in_background,
    topics_for,
    wait_until_settled,
)
from tests.faults.traffic import PacedTraffic
from tests.gateway_server import Provider, provider
from tests.live import recovery_args

CRASH_POINTS = ["while_timers_fire@10", "after_state_write@10"]
"""the first runs' deaths (the carts of the first cycle come due after ~36 s)"""
EXPERIMENT = {
    "SMARTCOMMS_SCENARIOS__ABANDONED_CART__CONTROL_PERCENT": "20",
    "SMARTCOMMS_SCENARIOS__ABANDONED_CART__VARIANTS": "[{id: a, weight: 1}, {id: b, weight: 1}]",
}
"""the cart nudge as an A/B test with a control group: its report must come out exact"""


def test_sigkilled_worker_loses_and_doubles_nothing(
    kafka_brokers: str, redis_url: str, tmp_path: Path
) -> None:
    events, kills = scale("EVENTS", 60_000), scale("KILLS", 8)
    seconds = max(150, 12 * kills)  # room for each restart to catch up (traffic.py)
    traffic = PacedTraffic(events, events / seconds, seed=3)
    clean_prefix, chaos_prefix = (f"{side}{uuid.uuid4().hex[:6]}" for side in ("fclean", "fchaos"))
    clean_topics = topics_for(kafka_brokers)
    chaos_topics = topics_for(kafka_brokers, inputs=clean_topics)
    clean = Supervised(
        flow_env(kafka_brokers, redis_url, clean_topics, clean_prefix, **EXPERIMENT),
        ["-w", "1"],
        tmp_path / "c",
    )
    chaos = Supervised(
        flow_env(kafka_brokers, redis_url, chaos_topics, chaos_prefix, **EXPERIMENT),
        ["-w", "1", *recovery_args(tmp_path / "recovery", partitions=2)],
        tmp_path / "k",
        crashes=CRASH_POINTS,
    )
    try:
        producer, _ = stream_in_background(traffic, kafka_brokers, clean_topics)
        started = time.monotonic()
        while chaos.runs <= len(CRASH_POINTS) and time.monotonic() - started < 0.6 * seconds:
            time.sleep(0.2)  # the planned deaths first
        rng = random.Random(11)
        period = (traffic.last_at - (time.monotonic() - started)) / kills
        for _ in range(kills):  # then a kill at a random moment of each period of the stream
            time.sleep(rng.uniform(0.6, 1.0) * period)
            chaos.kill()
        producer.join()
        wait_until_settled(
            kafka_brokers, [clean_topics.notices, chaos_topics.notices], quiet_s=8, timeout_s=180
        )
    finally:
        assert clean.stop() == 0, clean.log_text()[-3000:]
        assert chaos.stop() == 0, chaos.log_text()[-3000:]
    log = chaos.log_text()
    assert clean.exits == [] and chaos.exits == [-9] * (kills + len(CRASH_POINTS)), chaos.exits
    assert "Traceback" not in clean.log_text() + log
    for point in CRASH_POINTS:  # died where planned; the next run re-emitted from the outbox
        assert f"crash point {point.split('@')[0]}" in log
    assert "re-emitting notices Kafka never confirmed" in log

    clean_messages = read_topic(kafka_brokers, clean_topics.notices)
    chaos_messages = read_topic(kafka_brokers, chaos_topics.notices)
    clean_notices, clean_counts = notices_by_id(clean_messages)
    chaos_notices, chaos_counts = notices_by_id(chaos_messages)
    triggers = Counter(n["trigger"] for n in clean_notices.values())
    assert triggers["bonus_earned"] > 100 and triggers["abandoned_cart"] > 100, triggers
    assert set(clean_counts.values()) == {1}  # nobody killed it: each notice once
    lost = [clean_notices[i] for i in clean_notices.keys() - chaos_notices.keys()]
    invented = [chaos_notices[i] for i in chaos_notices.keys() - clean_notices.keys()]
    assert (lost, invented) == ([], []), (  # nothing lost, nothing invented
        [(n["trigger"], n["customer_id"], n["caused_by"], n["due_ts"]) for n in lost[:5]],
        [(n["trigger"], n["customer_id"], n["caused_by"], n["due_ts"]) for n in invented[:5]],
        len(lost),
        len(invented),
        lateness(clean_messages),
        lateness(chaos_messages),
    )
    differing = {
        i: {k: (v, chaos_notices[i][k]) for k, v in n.items() if chaos_notices[i][k] != v}
        for i, n in clean_notices.items()
        if chaos_notices[i] != n
    }
    assert differing == {}  # and each with the same content

    for topics in (clean_topics, chaos_topics):
        letters = read_topic(kafka_brokers, topics.dead_letters)
        assert {m.value() for m in letters} == set(traffic.bad)
        assert all(dict(m.headers())["reason"] for m in letters)

    assert states(redis_url, chaos_prefix) == states(redis_url, clean_prefix)
    report = report_counts(redis_url, clean_prefix)
    assert report_counts(redis_url, chaos_prefix) == report  # every figure counted once
    cart = {k: v for k, v in report.items() if k.startswith("abandoned_cart|")}
    assert cart["abandoned_cart|sent|abandoned_cart|a"] > 20, cart
    assert cart["abandoned_cart|control|abandoned_cart|"] > 5, cart
    bonus = {k: v for k, v in report.items() if k.startswith("bonus_earned|")}
    assert bonus["bonus_earned|sent|bonus_earned|"] == triggers["bonus_earned"]
    decided = sum(v for k, v in bonus.items() if k.split("|")[1].startswith(("sent", "supp")))
    assert bonus["bonus_earned|entered||"] == decided, bonus  # one step each: sent or not

    sent = dispatch_once_each(
        kafka_brokers, redis_url, chaos_topics.notices, chaos_prefix, tmp_path
    )
    assert Counter(sent) == Counter(clean_notices.keys())  # every notice, once
    repeats = sum(chaos_counts.values()) - len(chaos_counts)
    print(
        f"\n{events} events in {seconds} s, {kills} random kills + {len(CRASH_POINTS)} at "
        f"crash points, {len(clean_notices)} notices, {repeats} repeated on the topic"
    )


def report_counts(redis_url: str, prefix: str) -> Counter[str]:
    client = connect(redis_url)
    try:
        return ReportCounters(client, prefix).totals()
    finally:
        client.close()


def dispatch_once_each(
    brokers: str, redis_url: str, notices: str, prefix: str, tmp_path: Path
) -> list[str]:
    """Run the dispatcher over ``notices`` (repeats included) with every channel going to one
    local webhook and no receipts coming back; returns the notice id of every send."""
    with provider() as server:
        config = tmp_path / "dispatch.yaml"
        config.write_text(
            "gateways:\n"
            + "".join(
                f"  {channel}: {{kind: webhook, base_url: '{server.url}'}}\n"
                for channel in ("push", "web_push", "telegram", "viber", "whatsapp", "sms", "email")
            )
        )
        topics = topics_for(brokers).model_copy(update={"notices": notices})
        env = flow_env(brokers, redis_url, topics, prefix, SMARTCOMMS_CONFIG=str(config))
        dispatcher = Supervised(env, [], tmp_path / "d", flow="flows.dispatch:build_flow()")
        try:
            wait_for_requests(server)
        finally:
            assert dispatcher.stop() == 0, dispatcher.log_text()[-3000:]
        return [orjson.loads(r.body)["notice_id"] for r in server.requests]


def wait_for_requests(server: Provider, quiet_s: float = 5, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if len(server.requests) != last:
            last, quiet_since = len(server.requests), time.monotonic()
        elif last > 0 and time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.5)
    raise AssertionError(f"the dispatcher still sends after {timeout_s} s")


def lateness(messages: list) -> list[tuple[str, float]]:
    """The five latest timer notices: (due_ts, seconds from due to emission)."""
    late = []
    for message in messages:
        notice = orjson.loads(message.value())
        if notice["trigger"] == "abandoned_cart":
            created = datetime.fromisoformat(notice["created_at"])
            late.append(
                (
                    notice["due_ts"],
                    (created - datetime.fromisoformat(notice["due_ts"])).total_seconds(),
                )
            )
    return sorted(late, key=lambda x: -x[1])[:5]
