"""``make demo``: local Redis + broker, synthetic traffic through the live flow, on screen."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from confluent_kafka import Consumer

from smartcomms.config import Settings
from smartcomms.kafka import client_config
from smartcomms.localstack import free_port, kafka_broker, redis_server
from smartcomms.simulate import produce
from smartcomms.topics import assignments, ensure_topics

SHOW_EVERY_S = 1.0
DEMO_DEFAULTS = {
    "SMARTCOMMS_TRIGGERS__ABANDONED_CART__DELAY_MINUTES": "1",
    "SMARTCOMMS_QUIET_HOURS__ENABLED": "false",
}


@contextlib.contextmanager
def live_flow(
    settings: Settings, config: str | None, workers: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the live flow as a Bytewax process (``config``: YAML file); stop it on exit."""
    assert settings.redis.url is not None
    metrics_port = free_port()
    print(f"metrics: http://127.0.0.1:{metrics_port}/metrics (also /healthz, /readyz)")
    env = {
        **os.environ,
        "SMARTCOMMS_KAFKA__BROKERS": settings.kafka.brokers,
        "SMARTCOMMS_REDIS__URL": settings.redis.url,
        "SMARTCOMMS_LOG__LEVEL": "warning",
        "SMARTCOMMS_OBSERVABILITY__PORT": str(metrics_port),
    }
    if config:
        env["SMARTCOMMS_CONFIG"] = str(Path(config).resolve())
    else:  # something to see within a demo: carts fire after a minute, at any hour
        env.update(DEMO_DEFAULTS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.live:build_flow()", "-w", str(workers)],
        env=env,
        start_new_session=True,  # Ctrl-C reaches the demo only; it stops the flow itself
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_demo(
    settings: Settings, config: str | None, rate: float, customers: int, workers: int
) -> int:
    """Run until Ctrl-C; returns the exit status."""
    with redis_server() as redis_url, kafka_broker() as brokers:
        settings = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(update={"brokers": brokers}),
                "redis": settings.redis.model_copy(update={"url": redis_url}),
            }
        )
        topics = settings.kafka.topics
        ensure_topics(
            brokers,
            [*topics.inputs(), topics.notices, topics.dead_letters],
            4,
            settings.kafka.client_config,
        )
        print(f"Redis {redis_url}  Kafka {brokers}  — Ctrl-C stops", file=sys.stderr)
        stop = threading.Event()
        produced = [0]

        def traffic() -> None:
            produced[0] = produce(settings, 0, rate, customers, 7, 0.001, stop)

        # stopped in order: traffic and display, then the flow, then broker and Redis
        tally = _Tally()
        with live_flow(settings, config, workers) as flow:
            producer = threading.Thread(target=traffic, daemon=True)
            producer.start()
            try:
                _show(settings, flow, stop, tally)
            except KeyboardInterrupt:
                print("\nstopping…", file=sys.stderr)
            finally:
                stop.set()
                producer.join(timeout=10)
        print(
            f"summary: {produced[0]} events produced, {sum(tally.notices.values())} notices "
            f"({dict(tally.notices)}), {tally.dead_letters} dead letters",
            file=sys.stderr,
        )
    return 0


@dataclasses.dataclass
class _Tally:
    notices: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    """by trigger"""
    dead_letters: int = 0


def _show(
    settings: Settings, flow: subprocess.Popen[bytes], stop: threading.Event, tally: _Tally
) -> None:
    topics = settings.kafka.topics
    consumer = Consumer(
        client_config(settings.kafka.brokers, {"group.id": "demo", "enable.auto.commit": False})
    )
    consumer.assign(assignments(settings.kafka.brokers, [topics.notices, topics.dead_letters]))
    by_trigger = tally.notices
    started = last_show = time.monotonic()
    shown_in_second = 0
    try:
        while not stop.is_set():
            if flow.poll() is not None:
                raise SystemExit(f"the live flow exited with status {flow.returncode}")
            for msg in consumer.consume(500, 0.2):
                value = msg.value()
                if msg.error() or value is None:
                    continue
                if msg.topic() == topics.dead_letters:
                    tally.dead_letters += 1
                    continue
                notice = orjson.loads(value)
                by_trigger[notice["trigger"]] += 1
                if shown_in_second < 3:  # a sample of notices, readable at any rate
                    shown_in_second += 1
                    print(
                        f"  → {notice['customer_id']} [{', '.join(notice['channels'])}] "
                        f"{notice['text']}"
                    )
            now = time.monotonic()
            if now - last_show >= SHOW_EVERY_S:
                last_show, shown_in_second = now, 0
                total = sum(by_trigger.values())
                print(
                    f"[{now - started:6.0f}s] notices {total} ({dict(by_trigger)}), "
                    f"{total / (now - started):.0f}/s, dead letters {tally.dead_letters}",
                    file=sys.stderr,
                )
    finally:
        consumer.close()
