"""Dispatcher throughput against a local HTTP gateway that answers at once.

    python bench/dispatch.py [--notices 20000] [--batch 1000] [--concurrency 32]

Measures in the same run:
  (a) baseline: the same webhook gateway driven by the same thread pool, no dispatcher;
  (b) the dispatcher: claims and state in a private Redis, cascade, sync receipts;
and prints notices/s of both, their ratio, and the time a notice spends in its batch
(p50/p99: the latency the dispatcher adds before the gateway has answered).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from common import percentile

from channels.dispatcher import Dispatcher
from channels.gateways.base import Message
from channels.gateways.delivery import RetryPolicy
from channels.gateways.factory import ConfiguredGateway
from channels.gateways.http import WebhookGateway
from channels.templates import SAMPLE_VARS, TemplateSet
from smartcomms.config import DispatchSettings
from smartcomms.localstack import free_port, redis_server
from state.customers import CustomerStore
from state.dispatches import DispatchStore
from triggers.customer import CustomerState


class _Instant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body would wait 40 ms for an ACK

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Instant)
    server.daemon_threads = True
    server.serve_forever()


def _wait_for(port: int) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the local gateway did not start")


def notices(count: int, start: int) -> list[dict[str, object]]:
    return [
        {
            "notice_id": f"n{start + n}",
            "customer_id": f"C{(start + n) % 1000}",
            "channels": ["push", "sms"],
            "template": "bonus_earned",
            "vars": SAMPLE_VARS["bonus_earned"],
        }
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    port = free_port()
    gateway_process = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    gateway_process.start()  # its own process: it must not share our GIL
    url = f"http://127.0.0.1:{port}"
    _wait_for(port)
    templates = TemplateSet.with_overrides({})
    once = RetryPolicy(attempts=1)

    baseline_gateway = WebhookGateway(url)
    content = templates.render("bonus_earned", "push", SAMPLE_VARS["bonus_earned"])
    messages = [Message(f"b{n}", "C1", "push", "tok", content) for n in range(args.notices)]
    with ThreadPoolExecutor(args.concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(baseline_gateway.send, messages))
        base_s = time.perf_counter() - started
    baseline_gateway.close()

    with redis_server() as redis_url:
        client = redis.Redis.from_url(redis_url)
        customers = CustomerStore(client, "bench", 3600)
        customers.save(
            {f"c:C{n}": CustomerState(contacts={"push_token": f"t{n}"}) for n in range(1000)}
        )
        gateway = ConfiguredGateway(WebhookGateway(url), once, None)
        dispatcher = Dispatcher(
            DispatchStore(client, "bench"),
            customers,
            {"push": gateway},
            templates,
            DispatchSettings(concurrency=args.concurrency),
        )
        batch_s: list[float] = []
        started = time.perf_counter()
        for start in range(0, args.notices, args.batch):
            begun = time.perf_counter()
            dispatcher.process("0", notices(min(args.batch, args.notices - start), start))
            batch_s.append(time.perf_counter() - begun)
        engine_s = time.perf_counter() - started
        dispatcher.close()
        client.close()
    gateway_process.terminate()
    base, engine = args.notices / base_s, args.notices / engine_s
    print(f"notices: {args.notices}, batch {args.batch}, {args.concurrency} sender threads")
    print(f"(a) baseline  gateway calls alone:     {base:8,.0f} notices/s")
    print(f"(b) dispatcher (Redis, cascade, receipts): {engine:8,.0f} notices/s")
    print(f"ratio dispatcher / baseline: {engine / base:.2f}")
    print(
        f"time in batch: p50 {percentile(batch_s, 50) * 1000:.0f} ms, "
        f"p99 {percentile(batch_s, 99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
