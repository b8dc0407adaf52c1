"""Dispatcher throughput against a local HTTP gateway that answers at once.

    python bench/dispatch.py [--notices 20000] [--batch 1000] [--concurrency 32]

Measures in the same run:
  (a) baseline: the same webhook gateway sending the same batches, no dispatcher;
  (b) the dispatcher: claims and state in a private Redis, cascade, sync receipts;
and prints notices/s of both, their ratio, and the time a notice spends in its batch
(p50/p99: the latency the dispatcher adds before the gateway has answered).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import socket
import time

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


class _Instant(asyncio.Protocol):
    """HTTP/1.1 keep-alive: answers every complete request with ``200 {}`` at once."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = 0
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at) % (len(head) + 1)]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                break
            self.buffer = self.buffer[end + 4 + length :]
            answers += 1
        if answers:
            self.transport.write(self.ANSWER * answers)


def _serve(port: int) -> None:
    """The provider in its own process, so that it does not share our GIL."""

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Instant, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


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
    gateway_process.start()
    url = f"http://127.0.0.1:{port}"
    _wait_for(port)
    templates = TemplateSet.with_overrides({})
    once = RetryPolicy(attempts=1)

    baseline_gateway = WebhookGateway(url, concurrency=args.concurrency)
    content = templates.render("bonus_earned", "push", SAMPLE_VARS["bonus_earned"])
    messages = [Message(f"b{n}", "C1", "push", "tok", content) for n in range(args.notices)]
    started = time.perf_counter()
    for start in range(0, args.notices, args.batch):
        baseline_gateway.send_many(messages[start : start + args.batch])
    base_s = time.perf_counter() - started
    baseline_gateway.close()

    with redis_server() as redis_url:
        client = redis.Redis.from_url(redis_url)
        customers = CustomerStore(client, "bench", 3600)
        customers.save(
            {f"c:C{n}": CustomerState(contacts={"push_token": f"t{n}"}) for n in range(1000)}
        )
        gateway = ConfiguredGateway(WebhookGateway(url, concurrency=args.concurrency), once, None)
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
    print(f"notices: {args.notices}, batch {args.batch}, {args.concurrency} requests in flight")
    print(f"(a) baseline  gateway calls alone:     {base:8,.0f} notices/s")
    print(f"(b) dispatcher (Redis, cascade, receipts): {engine:8,.0f} notices/s")
    print(f"ratio dispatcher / baseline: {engine / base:.2f}")
    print(
        f"time in batch: p50 {percentile(batch_s, 50) * 1000:.0f} ms, "
        f"p99 {percentile(batch_s, 99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
