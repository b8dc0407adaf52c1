"""What an SRE relies on: /metrics, /healthz, /readyz of a running flow, and SIGTERM ending
it cleanly (exit 0) with its work done."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from smartcomms.config import TopicNames
from smartcomms.localstack import free_port
from smartcomms.observability import Health, serve
from tests.events import customer, receipt
from tests.live import (
    TIMEOUT_S,
    consume,
    env_for,
    produce,
    recovery_args,
    start_flow,
    stop_flow,
    wait_for_profiles,
)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_ready(base: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if get(base + "/readyz")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise AssertionError("the flow never became ready")


def samples(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    status, body = get(base + "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_metrics_health_and_a_graceful_stop(
    kafka_brokers: str, redis_url: str, topics: TopicNames, prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(
        kafka_brokers, redis_url, topics, prefix, SMARTCOMMS_OBSERVABILITY__PORT=str(port)
    )
    recovery = recovery_args(tmp_path / "recovery")
    proc = start_flow(env, ["-w", "1", *recovery])
    wait_until_ready(base)
    assert get(base + "/healthz")[0] == 200
    ready = orjson.loads(get(base + "/readyz")[1])
    assert ready == {"processing": "ok", "redis": "ok", "kafka": "ok"}

    produce(kafka_brokers, topics.customers, [customer("C1", contacts={"phone": "+79990001122"})])
    wait_for_profiles(redis_url, prefix, 1)
    produce(kafka_brokers, topics.receipts, [b"{oops", receipt("r1", "C1", 2000)])
    consume(kafka_brokers, topics.notices, expected=1)

    acknowledged = time.monotonic() + 10  # the sink observes right after the broker's ack
    while not samples(base).get(("smartcomms_flow_seconds_count", ())) and (
        time.monotonic() < acknowledged
    ):
        time.sleep(0.05)
    got = samples(base)
    assert got["smartcomms_flow_seconds_count", ()] == 1  # consumed -> acknowledged
    assert 0 < got["smartcomms_flow_seconds_sum", ()] < 5
    assert got["smartcomms_events_total", (("type", "receipt"),)] == 1
    assert got["smartcomms_events_total", (("type", "customer"),)] == 1
    assert got["smartcomms_dead_letters_total", (("kind", "not_json"),)] == 1
    notices = ("channel", "sms"), ("kind", "transactional"), ("trigger", "bonus_earned")
    assert got["smartcomms_notices_total", notices] == 1
    assert got["smartcomms_receipt_to_notice_seconds_count", ()] == 1
    assert got["smartcomms_redis_seconds_count", (("op", "save"),)] >= 2
    assert got["smartcomms_batch_items_count", (("flow", "engine"),)] >= 2
    figure = (("figure", "sent"), ("scenario", "bonus_earned"), ("step", "bonus_earned"))
    assert got["smartcomms_scenario_figures_total", (*figure, ("variant", ""))] == 1

    stop_flow(proc)
    # the stop was clean: a restart from the snapshot applies nothing twice
    again = start_flow(env, ["-w", "1", *recovery])
    produce(kafka_brokers, topics.receipts, [receipt("r2", "C1", 1000)])
    messages = consume(kafka_brokers, topics.notices, expected=2)
    stop_flow(again)
    assert sorted(orjson.loads(m.value())["caused_by"] for m in messages) == ["r1", "r2"]


def test_not_ready_when_a_dependency_fails_or_batches_stop() -> None:
    import redis

    dead_redis = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    health = Health(stale_after_s=0.3, probes={"redis": dead_redis.ping}, probe_every_s=0)
    port = free_port()
    server = serve(port, health, "127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = get(base + "/readyz")
        assert status == 503
        checks = orjson.loads(body)
        assert checks["processing"] == "no batch yet" and "ConnectionError" in checks["redis"]
        health.probes = {}
        health.beat()
        assert get(base + "/readyz")[0] == 200
        time.sleep(0.4)
        status, body = get(base + "/readyz")
        assert status == 503 and orjson.loads(body)["processing"].startswith("idle")
        assert get(base + "/healthz")[0] == 200  # idle is not dead
        health.stuck_after_s = 0.1
        assert get(base + "/healthz")[0] == 503
        assert get(base + "/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        dead_redis.close()
