"""`make demo`'s stand-in for the channel providers: one local HTTP endpoint takes the
dispatcher's webhook sends for every channel (``POST /<channel>``) and answers as a
provider does — mostly accepted, now and then refused — and later reports on each
accepted message on the ``deliveries`` topic: delivered or failed, and some opened."""

from __future__ import annotations

import heapq
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson
from confluent_kafka import Producer

from smartcomms.http_server import QuietHTTPServer
from smartcomms.kafka import client_config
from triggers.notices import rfc3339_utc


@dataclass(frozen=True)
class Behaviour:
    """How often a provider refuses, fails to deliver, and is opened; how late it tells."""

    refused: float = 0.04
    failed: float = 0.08
    opened: float = 0.35
    delivered_after_s: tuple[float, float] = (0.3, 3.0)
    opened_after_s: tuple[float, float] = (2.0, 20.0)


@dataclass(order=True)
class _Due:
    at: float
    receipt: dict[str, Any] = field(compare=False)


class FakeProviders:
    """The endpoint and the receipts it owes; `start`, then `stop`."""

    def __init__(
        self, brokers: str, topic: str, kafka: dict[str, Any], behaviour: Behaviour | None = None
    ) -> None:
        self._topic = topic
        self._producer = Producer(client_config(brokers, kafka))
        self._behaviour = behaviour or Behaviour()
        self._rng = random.Random(11)
        self._owed: list[_Due] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: QuietHTTPServer | None = None
        self._sender = threading.Thread(target=self._send_receipts, daemon=True)

    def start(self) -> str:
        """Serve on a free loopback port; the base URL of the gateways."""
        providers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = providers._answer(self.path.strip("/"), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._sender.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop answering; receipts still owed are dropped (as a provider outage would)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._sender.join(timeout=5)
        self._producer.flush(5)

    def _answer(self, channel: str, body: bytes) -> tuple[int, bytes]:
        behaviour, rng = self._behaviour, self._rng
        message = orjson.loads(body)
        with self._lock:
            if rng.random() < behaviour.refused:
                return 503, b'{"error": "provider busy, try another channel"}'
            now = time.time()
            receipt = {
                "type": "delivery",
                "notice_id": message["notice_id"],
                "customer_id": message["customer_id"],
                "channel": channel,
            }
            delivered_at = now + rng.uniform(*behaviour.delivered_after_s)
            if rng.random() < behaviour.failed:
                self._owe(delivered_at, {**receipt, "status": "failed", "error": "undeliverable"})
            else:
                self._owe(delivered_at, {**receipt, "status": "delivered"})
                if rng.random() < behaviour.opened:
                    opened_at = delivered_at + rng.uniform(*behaviour.opened_after_s)
                    self._owe(opened_at, {**receipt, "status": "opened"})
        return 200, orjson.dumps({"id": f"{message['notice_id']}:{channel}"})

    def _owe(self, at: float, receipt: dict[str, Any]) -> None:
        receipt["event_id"] = f"{receipt['notice_id']}:{receipt['channel']}:{receipt['status']}"
        heapq.heappush(self._owed, _Due(at, receipt))

    def _send_receipts(self) -> None:
        while not self._stop.wait(0.1):
            now = time.time()
            with self._lock:
                due = []
                while self._owed and self._owed[0].at <= now:
                    due.append(heapq.heappop(self._owed))
            for item in due:
                receipt = {**item.receipt, "ts": rfc3339_utc(item.at)}
                self._producer.produce(
                    self._topic, orjson.dumps(receipt), receipt["customer_id"].encode()
                )
            self._producer.poll(0)
