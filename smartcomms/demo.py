"""``make demo``: the product on one machine, telling its story.

A local Redis and broker; scenarios from the recipes on a compressed clock (welcome with
an A/B test and a control group, retention, browse abandonment, cross-sell) unless a
``--config`` brings its own; synthetic POS and web traffic with a trickle of new
registrations; the live flow; the dispatcher sending every channel to local fake
providers (smartcomms.demo_providers: some refused, some failed, some opened); the
console. The terminal shows one refreshed screen of what happens; Ctrl-C stops
everything in order and prints the last screen as the summary.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis
import yaml
from confluent_kafka import Consumer, Producer

from smartcomms.config import CHANNELS, Settings, load_settings
from smartcomms.console.readings import Readings
from smartcomms.console.server import Console, serve
from smartcomms.demo_providers import FakeProviders
from smartcomms.kafka import client_config
from smartcomms.localstack import free_port, kafka_broker, redis_server, stop_process
from smartcomms.signals import stop_on_signals
from smartcomms.simulate import produce
from smartcomms.synthetic import TrafficGenerator
from smartcomms.topics import assignments, ensure_topics
from state.connection import connect

SHOW_EVERY_S = 2.0
NEWCOMERS_PER_S = 2.0
STEP_S = 15
COMPRESSED = {"retention": ("d30", "d32", "d35", "d40"), "welcome": ("d4", "d7", "d14")}
"""the recipes' steps the demo's clock compresses to STEP_S seconds each, in order"""


def demo_scenarios() -> dict[str, Any]:
    """The demo's own configuration: recipes, seconds for days, an A/B test."""
    scenarios: dict[str, Any] = {
        "welcome": {
            "recipe": "welcome_series",
            "variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}],
            "control_percent": 10,
            "steps": [{"id": "d1", "template": {"a": "welcome_d1", "b": "welcome_d4"}}],
        },
        "retention": {"recipe": "retention", "steps": []},
        "browse": {"recipe": "browse_abandonment", "steps": [{"id": "nudge", "after": "20s"}]},
        "cross_sell": {"recipe": "cross_sell", "steps": [{"id": "d7", "after": "30s"}]},
    }
    for sid, steps in COMPRESSED.items():
        for n, step in enumerate(steps, start=1):
            after = f"{n * STEP_S}s"
            scenarios[sid]["steps"].append({"id": step, "after": after, "at_local": None})
    return {
        "scenarios": scenarios,
        "triggers": {"abandoned_cart": {"delay_minutes": 1}},
        "quiet_hours": {"enabled": False},
    }


def demo_configuration(config: str | None, providers_url: str) -> dict[str, Any]:
    """``config`` (or the demo's scenarios), every channel sent to the fake providers:
    a demo never reaches a real customer."""
    data: dict[str, Any] = (
        yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {} if config else {}
    )
    if not config:
        data.update(demo_scenarios())
    data["gateways"] = {
        channel: {
            "kind": "webhook",
            "base_url": providers_url,
            "path": f"/{channel}",
            "retry_attempts": 1,
        }
        for channel in CHANNELS
    }
    return data


@contextlib.contextmanager
def flow_process(
    settings: Settings, config: Path, flow: str, workers: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a Bytewax flow (``flows.live`` or ``flows.dispatch``) as a process; stop it on
    exit."""
    assert settings.redis.url is not None
    env = {
        **os.environ,
        "SMARTCOMMS_CONFIG": str(config),
        "SMARTCOMMS_KAFKA__BROKERS": settings.kafka.brokers,
        "SMARTCOMMS_REDIS__URL": settings.redis.url,
        "SMARTCOMMS_LOG__LEVEL": "warning",
        "SMARTCOMMS_OBSERVABILITY__PORT": str(free_port()),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", f"{flow}:build_flow()", "-w", str(workers)],
        env=env,
        start_new_session=True,  # Ctrl-C reaches the demo only; it stops the flows itself
    )
    try:
        yield proc
    finally:
        stop_process(proc)


def run_demo(
    settings: Settings, config: str | None, rate: float, customers: int, workers: int
) -> int:
    """Run until Ctrl-C (during the start too: everything started is then stopped in
    order); returns the exit status."""
    stop = threading.Event()
    stop_on_signals(stop)
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        brokers = stack.enter_context(kafka_broker())
        topics = settings.kafka.topics
        kafka = settings.kafka.client_config
        ensure_topics(brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 4, kafka)
        providers = FakeProviders(brokers, topics.deliveries, kafka)
        providers_url = providers.start()
        stack.callback(providers.stop)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smartcomms-demo-")))
        config_path = folder / "demo.yaml"
        config_path.write_text(yaml.safe_dump(demo_configuration(config, providers_url)))
        overrides = {"kafka.brokers": brokers, "redis.url": redis_url}
        settings = load_settings(config_path, overrides=overrides)
        readings = Readings(connect(redis_url), settings)
        console = _console(readings, settings.console.port)
        stack.callback(console.shutdown)
        url = f"http://127.0.0.1:{console.server_address[1]}/"
        print(f"Redis {redis_url}  Kafka {brokers}  console {url}  — Ctrl-C stops", flush=True)
        produced = [0]

        def traffic() -> None:
            produced[0] = produce(settings, 0, rate, customers, 7, 0.001, stop)

        # stopped in order: traffic and display, the flows, the providers, the console,
        # then broker and Redis
        stack.enter_context(flow_process(settings, config_path, "flows.dispatch", 1))
        flow = stack.enter_context(flow_process(settings, config_path, "flows.live", workers))
        threads = [
            threading.Thread(target=traffic, daemon=True),
            threading.Thread(target=_newcomers, args=(settings, stop), daemon=True),
        ]
        for thread in threads:
            thread.start()
        screen = _Screen(readings, url, sys.stdout.isatty())
        try:
            _show(settings, flow, stop, screen, produced)
            print("\nstopping…", file=sys.stderr)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
        with contextlib.suppress(redis.RedisError):
            print(screen.render(produced[0], final=True), flush=True)
    return 0


def _console(readings: Readings, port: int) -> Any:
    """The console on ``port``, or on any free port when that one is taken."""
    try:
        return serve(Console(readings), "127.0.0.1", port)
    except OSError:
        return serve(Console(readings), "127.0.0.1", 0)


def _newcomers(settings: Settings, stop: threading.Event) -> None:
    """New registrations now and then (the welcome chain's entry)."""
    generator = TrafficGenerator(customers=1, seed=13)
    producer = Producer(client_config(settings.kafka.brokers, settings.kafka.client_config))
    n = 0
    while not stop.wait(1 / NEWCOMERS_PER_S):
        n += 1
        profile = generator.profile(0)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        profile.update(customer_id=f"N{n:07d}", event_id=f"new-{n}", ts=now, registered_at=now)
        producer.produce(settings.kafka.topics.customers, orjson.dumps(profile), f"N{n:07d}")
        producer.poll(0)
    producer.flush(5)


class _Screen:
    """One screenful of what the demo does, from the console's readings."""

    def __init__(self, readings: Readings, url: str, refresh: bool) -> None:
        self._readings = readings
        self._url = url
        self._refresh = refresh
        self._started = time.monotonic()
        self.latest: deque[str] = deque(maxlen=4)
        """the texts of the latest notices"""

    def show(self, produced: int) -> None:
        text = self.render(produced)
        sys.stdout.write(("\x1b[H\x1b[J" if self._refresh else "\n") + text + "\n")
        sys.stdout.flush()

    def render(self, produced: int, final: bool = False) -> str:
        o, d = self._readings.overview(), self._readings.delivery()
        report = self._readings.report()["scenarios"]
        elapsed = time.monotonic() - self._started
        head = "summary" if final else f"smartcomms demo — {elapsed:.0f} s — {self._url}"
        lines = [
            head,
            f"events {o['events_total']:,} ({o['events_rate']:,.0f}/s)"
            + (f", {produced:,} of them synthetic traffic" if final else "")
            + f" · notices {o['notices_total']:,} · dead letters {o['dead_letters']['total']:,}"
            f" · duplicates {o['duplicates']:,}",
            "",
            _matrix(o["notices_matrix"], report),
            "",
            "suppressed: "
            + (" · ".join(f"{r['name']} {r['count']:,}" for r in o["suppressed"]) or "none"),
            "cascade: "
            + " · ".join(
                [
                    *(
                        f"{'first channel' if p == 1 else f'fell back to #{p}'} {n:,}"
                        for p, n in d["by_position"].items()
                    ),
                    f"unreachable {d['unreachable']:,}",
                    f"opened {sum(row['opened'] for row in d['rows']):,}",
                ]
            )
            + f" · spend {d['spend']:,.2f} {d['currency']}",
        ]
        uplift = [
            f"{sid} {f['uplift']['uplift'] * 100:+.1f} pp"
            for sid, f in report.items()
            if "uplift" in f
        ]
        if uplift:
            lines.append("uplift over control: " + " · ".join(uplift))
        if not final and self.latest:
            lines += ["", "latest notices:", *(f"  → {text}" for text in self.latest)]
        return "\n".join(lines)


def _matrix(matrix: dict[str, Any], report: dict[str, Any]) -> str:
    """Notices by scenario and first channel, with each scenario's conversions."""
    channels = matrix["channels"]
    rows = [["scenario", *channels, "converted"]]
    for sid, cells in matrix["cells"].items():
        converted = report.get(sid, {}).get("converted", "")
        rows.append(
            [
                sid,
                *(f"{cells.get(c, 0):,}" for c in channels),
                f"{converted:,}" if converted != "" else "",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def _show(
    settings: Settings,
    flow: subprocess.Popen[bytes],
    stop: threading.Event,
    screen: _Screen,
    produced: list[int],
) -> None:
    topics = settings.kafka.topics
    consumer = Consumer(
        client_config(settings.kafka.brokers, {"group.id": "demo", "enable.auto.commit": False})
    )
    consumer.assign(assignments(settings.kafka.brokers, [topics.notices]))
    last_show = 0.0
    try:
        while not stop.is_set():
            if flow.poll() is not None:
                raise SystemExit(f"the live flow exited with status {flow.returncode}")
            for msg in consumer.consume(500, 0.2):
                value = msg.value()
                if not msg.error() and value is not None:
                    notice = orjson.loads(value)
                    screen.latest.append(
                        f"{notice['customer_id']} {notice['trigger']} "
                        f"[{', '.join(notice['channels'])}] {notice['text']}"
                    )
            now = time.monotonic()
            if now - last_show >= SHOW_EVERY_S:
                last_show = now
                with contextlib.suppress(redis.RedisError):
                    screen.show(produced[0])
    finally:
        consumer.close()
