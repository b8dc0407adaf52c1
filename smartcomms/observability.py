"""Prometheus metrics, liveness and readiness of one process, on one small HTTP server.

    GET /metrics   Prometheus text format
    GET /healthz   200 while the process makes progress (liveness)
    GET /readyz    200 when Redis and Kafka answer and batches are being processed

Counters of the engine are kept in `flows.stats.Stats` (plain integers on the hot path) and
exported at scrape time by `flows.stats.StatsCollector`; the histograms here are observed
per batch or per notice, never per event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

RECEIPT_TO_NOTICE = Histogram(
    "smartcomms_receipt_to_notice_seconds",
    "From the event's ts to the notice it caused (live, event-caused notices)",
    buckets=LATENCY_BUCKETS,
)
FLOW_SECONDS = Histogram(
    "smartcomms_flow_seconds",
    "From consuming an event to the broker acknowledging the notice it caused (live)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
TIMER_LATENESS = Histogram(
    "smartcomms_timer_lateness_seconds",
    "From a timer's due time to the moment it fired (live)",
    buckets=LATENCY_BUCKETS,
)
REDIS_SECONDS = Histogram(
    "smartcomms_redis_seconds",
    "Redis round trips of one batch, by operation",
    ["op"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
BATCH_SIZE = Histogram(
    "smartcomms_batch_items",
    "Items in one shard batch (events, receipts, clock ticks), by flow",
    ["flow"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000),
)
SENDS = Counter(
    "smartcomms_sends",
    "Gateway sends of the dispatcher, by channel and outcome (sent, failed)",
    ["channel", "outcome"],
)
DISPATCH_DEAD_LETTERS = Counter(
    "smartcomms_dispatch_dead_letters",
    "Input the dispatcher could not read, by kind of reason",
    ["kind"],
)
DISPATCH_FAILURES = Counter(
    "smartcomms_dispatch_failures",
    "Items the dispatcher failed on (apply: dead-lettered; render: the channel failed)",
    ["stage"],
)

SCENARIO_FIGURES = Counter(
    "smartcomms_scenario_figures",
    "What the scenario report counts (triggers.scenarios.report), as this process "
    "committed it, by scenario, step, variant and figure (revenue in currency units)",
    ["scenario", "step", "variant", "figure"],
)


Probe = Callable[[], object]
"""Raises when the dependency does not answer."""


@dataclass
class Health:
    """Liveness: batches keep coming (clock ticks come every tick even without traffic).
    Readiness: that, and every dependency probe answers."""

    stale_after_s: float = 30.0
    """not ready when no batch completed for this long"""
    stuck_after_s: float = 300.0
    """not live when no batch completed for this long (the pod is restarted)"""
    probes: dict[str, Probe] = field(default_factory=dict)
    probe_every_s: float = 5.0
    _last_batch: float | None = None
    _started: float = field(default_factory=time.monotonic)
    _probed: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self) -> None:
        """A batch was processed."""
        self._last_batch = time.monotonic()

    def live(self) -> tuple[bool, dict[str, Any]]:
        """Alive, and why."""
        quiet = time.monotonic() - (self._last_batch or self._started)
        return quiet < self.stuck_after_s, {"seconds_since_last_batch": round(quiet, 3)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready, and the state of each check."""
        checks: dict[str, Any] = {}
        if self._last_batch is None:
            checks["processing"] = "no batch yet"
        else:
            quiet = time.monotonic() - self._last_batch
            checks["processing"] = "ok" if quiet < self.stale_after_s else f"idle {quiet:.0f} s"
        for name, probe in self.probes.items():
            checks[name] = self._probe(name, probe) or "ok"
        return all(value == "ok" for value in checks.values()), checks

    def _probe(self, name: str, probe: Probe) -> str | None:
        with self._lock:
            at, error = self._probed.get(name, (float("-inf"), None))
            if time.monotonic() - at < self.probe_every_s:
                return error
            try:
                probe()
                error = None
            except Exception as exc:  # any failure of a dependency means "not ready"
                error = f"{type(exc).__name__}: {exc}"[:300]
            self._probed[name] = (time.monotonic(), error)
            return error


HEALTH = Health()
"""This process's health: batches beat it, `serve` reports it."""


def serve(port: int, health: Health, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._answer(200, generate_latest(REGISTRY), "text/plain; version=0.0.4")
            elif self.path in ("/healthz", "/readyz"):
                ok, detail = health.live() if self.path == "/healthz" else health.ready()
                self._answer(200 if ok else 503, orjson.dumps(detail), "application/json")
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # probes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    return server
