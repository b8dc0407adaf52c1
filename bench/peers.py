"""smartcomms side by side with its peers, in one run, on one local Redis and broker.

    python bench/peers.py [--profiles 50000] [--receipts 300000] [--mix 200000]
                          [--history-customers 23000] [--inputs receipt-heavy,mix,history]
                          [--processes 2]

Inputs (each on topics of its own, 3 partitions, and as a JSONL file in the same order):
  receipt-heavy  --profiles customer profiles, then --receipts receipts of those customers
  mix            the synthetic mix of `make bench` (--mix events, 50k customers)
  history        replay only: 18 months of purchases of --history-customers customers, a
                 win-back timer after every purchase (real-like: CDNOW's shape)

For the Kafka inputs it measures (a) a Bytewax Kafka->Kafka passthrough of the topics,
(b) the smartcomms live flow (one process, one worker; then, with --processes N > 1,
again as a Bytewax cluster of N processes on loopback: what adding processes buys on this
machine), (c) the bonus job written with Quix Streams (bench/quix_peer.py: RocksDB state
per customer, one output per receipt), in a bench-only virtualenv built here on first use
(~/.cache/smartcomms-bench; Quix pins its own confluent-kafka, nothing of it enters
smartcomms' dependencies); for every input (d) smartcomms replay (state in memory, then
in Redis) against the naive in-memory floor (bench/naive_floor.py). It prints events/s
and the ratios.

The local broker is Tansu (smartcomms.localstack). What it needs here: its DescribeConfigs
answers only the settings a topic was created with, and Quix derives its changelog topics
from the input topics' ``retention.ms`` (a KeyError otherwise), so the input topics are
created with an explicit retention; it creates the topics Quix asks for (changelogs, the
output). It answers a fetch only at the consumer's fetch deadline, which throughput runs
do not notice (there is always data) but a latency run does (bench/throughput.py sets
fetch.wait.max.ms=10).
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import naive_floor
import orjson
from common import ROOT, start_cluster
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from throughput import passthrough, timed

from flows.live import build_flow
from flows.replay import replay
from smartcomms.config import LogSettings, Settings, TopicNames
from smartcomms.kafka import producer_config
from smartcomms.localstack import kafka_broker, redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from triggers.events import epoch_of

PARTITIONS = 3
QUIX = "quixstreams==3.28.1"
INTERPRETER = sys.base_prefix.strip("/").replace("/", "-")
"""the bench-only venv is built per interpreter: every peer runs on the same one"""
QUIX_VENV = Path.home() / ".cache" / "smartcomms-bench" / f"{QUIX.replace('==', '-')}-{INTERPRETER}"
Message = tuple[str, bytes | None, bytes]
"""(role: receipts | clicks | customers, key, value)"""


def quix_python() -> Path:
    """The bench-only virtualenv's interpreter, with Quix Streams (built on first use)."""
    python = QUIX_VENV / "bin" / "python"
    if not python.exists():
        print(f"building {QUIX_VENV} ({QUIX}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", QUIX], check=True)
    return python


def receipt_heavy(profiles: int, receipts: int) -> Iterator[Message]:
    """Profiles, then receipts of those customers."""
    generator = TrafficGenerator(profiles, seed=11, start=datetime.now(UTC) - timedelta(days=1))
    yield from generator.events(profiles)
    rng = random.Random(11)
    for _ in range(receipts):
        event = generator.receipt(rng.randrange(profiles))
        yield "receipts", str(event["customer_id"]).encode(), orjson.dumps(event)


def synthetic_mix(count: int) -> Iterator[Message]:
    """The mix of `make bench`: profiles first, then receipts, carts, browsing, updates."""
    generator = TrafficGenerator(50_000, seed=7, bad_rate=0.001, realtime=True)
    yield from generator.events(count)


def history(customers: int) -> Iterator[Message]:
    """Profiles, then ~4 purchases per customer over 18 months in time order (gaps drawn
    with a mean of 120 days: most are longer than the 30 days of a win-back)."""
    generator = TrafficGenerator(customers, seed=23, start=datetime(2025, 1, 1, tzinfo=UTC))
    yield from generator.events(customers)
    rng = random.Random(23)
    start, end = datetime(2025, 1, 2, tzinfo=UTC).timestamp(), 540 * 86_400.0
    queue = [(start + rng.uniform(0, 90 * 86_400), n) for n in range(customers)]
    heapq.heapify(queue)
    while queue:
        at, n = heapq.heappop(queue)
        event = generator.receipt(n)
        event["ts"] = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        yield "receipts", str(event["customer_id"]).encode(), orjson.dumps(event)
        gap = rng.expovariate(1 / (120 * 86_400))
        if at + gap < start + end:
            heapq.heappush(queue, (at + gap, n))


def settings_data(name: str, brokers: str, redis_url: str) -> dict[str, Any]:
    """The configuration of an input's runs (its own topics and Redis prefix)."""
    topics = TopicNames(**{f: f"{f}-{name}" for f in TopicNames.model_fields})
    return {
        "kafka": {"brokers": brokers, "topics": topics.model_dump()},
        "redis": {"url": redis_url, "prefix": name},
        "log": {"level": "error"},
        "observability": {"port": 0},
    }


def settings_for(name: str, brokers: str, redis_url: str) -> Settings:
    return Settings.model_validate(settings_data(name, brokers, redis_url))


def cluster_seconds(data: dict[str, Any], processes: int, tmp: Path) -> float:
    """Seconds the live flow took to read the inputs to their end as a Bytewax cluster of
    ``processes`` processes on loopback (-i/-a, one worker each), as `k8s/` runs it with
    that many pods; its state under a Redis prefix of its own. Started as new processes,
    so the start-up (~3 s for two processes, ~2 s for one) is in the figure."""
    config = tmp / f"{data['redis']['prefix']}.yaml"
    config.write_bytes(orjson.dumps(data))  # JSON is YAML
    flow = "flows.live:build_flow(stop_at_end=True)"
    started = time.perf_counter()
    procs = start_cluster(flow, processes, {"SMARTCOMMS_CONFIG": str(config)})
    if any(proc.wait() != 0 for proc in procs):
        raise SystemExit(f"the live flow's cluster of {processes} processes failed")
    return time.perf_counter() - started


def create_topics(brokers: str, names: list[str]) -> None:
    """The topics, with the retention Quix derives its changelog topics from (Tansu
    describes only the settings a topic was created with)."""
    admin = AdminClient({"bootstrap.servers": brokers})
    config = {"retention.ms": str(7 * 86_400_000), "retention.bytes": "-1"}
    topics = [NewTopic(name, PARTITIONS, 1, config=config) for name in names]
    for future in admin.create_topics(topics, operation_timeout=30).values():
        future.result()


def write_input(messages: Iterator[Message], path: Path, settings: Settings | None) -> int:
    """Write the messages to ``path`` (one per line) and, given ``settings``, produce them
    to its input topics; how many."""
    producer = None
    if settings is not None:
        kafka = settings.kafka
        producer = Producer(producer_config(kafka.brokers, {}))
        by_role = {"receipts": kafka.topics.receipts, "clicks": kafka.topics.clicks}
        by_role["customers"] = kafka.topics.customers
    count = 0
    with path.open("wb") as out:
        for role, key, value in messages:
            out.write(value + b"\n")
            count += 1
            if producer is not None:
                while True:
                    try:
                        producer.produce(by_role[role], value, key)
                        break
                    except BufferError:
                        producer.poll(0.1)
                if count % 1000 == 0:
                    producer.poll(0)
    if producer is not None:
        producer.flush(120)
    return count


def quix_seconds(python: Path, settings: Settings, messages: int, tmp: Path) -> float:
    """Seconds the Quix peer took from the first of the input's messages to the last."""
    kafka = settings.kafka
    run = subprocess.run(
        [
            python,
            "-W",
            "ignore",
            ROOT / "bench" / "quix_peer.py",
            kafka.brokers,
            f"quix-{settings.redis.prefix}",
            f"quix-out-{settings.redis.prefix}",
            str(messages),
            tmp / f"quix-state-{settings.redis.prefix}",
            *kafka.topics.inputs(),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"Quix peer failed: {run.stderr[-2000:]}")
    return float(run.stdout.split()[-1])


def last_ts(path: Path) -> float:
    latest = 0.0
    with path.open("rb") as lines:
        for line in lines:
            try:
                latest = max(latest, epoch_of(orjson.loads(line)["ts"]))
            except Exception:  # the mix has a few malformed lines on purpose
                continue
    return latest


def replay_seconds(settings: Settings, path: Path, redis_url: str | None, until: float) -> float:
    with open(os.devnull, "wb") as sink:
        return timed_call(lambda: replay(settings, path, redis_url, sink, sink, until))


def naive_seconds(path: Path, until: float) -> float:
    with path.open("rb") as lines:
        return timed_call(lambda: naive_floor.replay(lines, until))


def timed_call(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10,.0f} ev/s"


def bench_input(
    name: str,
    messages: Iterator[Message],
    kafka: bool,
    brokers: str,
    redis_url: str,
    tmp: Path,
    processes: int,
) -> None:
    settings = settings_for(name, brokers, redis_url)
    path = tmp / f"{name}.jsonl"
    if kafka:
        topics = settings.kafka.topics
        names = [*topics.inputs(), topics.notices, topics.dead_letters, f"passthrough-{name}"]
        create_topics(brokers, names)
    count = write_input(messages, path, settings if kafka else None)
    print(f"\n== {name}: {count:,} events ==", flush=True)
    if kafka:
        base = count / timed(passthrough(settings, f"passthrough-{name}"))
        print(f"(a) Bytewax Kafka->Kafka passthrough    {base:10,.0f} ev/s", flush=True)
        live = count / timed(build_flow(settings, stop_at_end=True))
        print(f"(b) smartcomms live flow (1 worker)     {live:10,.0f} ev/s", flush=True)
        if processes > 1:
            data = settings_data(f"{name}-cluster", brokers, redis_url)
            data["kafka"]["topics"] = settings.kafka.topics.model_dump()  # the same input
            scaled = count / cluster_seconds(data, processes, tmp)
            print(f"    the same, {processes} processes          {scaled:10,.0f} ev/s", flush=True)
            print(f"    {processes} processes / 1 process {scaled / live:.2f}")
        quix = count / quix_seconds(quix_python(), settings, count, tmp)
        print(f"(c) Quix Streams 3.28 bonus job         {quix:10,.0f} ev/s", flush=True)
        print(f"    live / passthrough {live / base:.2f}   live / Quix {live / quix:.2f}")
    until = last_ts(path) + 31 * 86_400  # every pending win-back fires at the end
    memory = count / replay_seconds(settings, path, None, until)
    print(f"(d) smartcomms replay, state in memory  {memory:10,.0f} ev/s", flush=True)
    on_redis = count / replay_seconds(settings, path, redis_url, until)
    print(f"    smartcomms replay, state in Redis   {on_redis:10,.0f} ev/s", flush=True)
    floor = count / naive_seconds(path, until)
    print(f"    naive in-memory floor               {floor:10,.0f} ev/s", flush=True)
    print(
        f"    replay (memory) / floor {memory / floor:.2f}   (Redis) / floor {on_redis / floor:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--receipts", type=int, default=300_000)
    parser.add_argument("--mix", type=int, default=200_000)
    parser.add_argument("--history-customers", type=int, default=23_000)
    parser.add_argument("--inputs", default="receipt-heavy,mix,history")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="the live flow again as a cluster of this many processes (1: not)",
    )
    args = parser.parse_args()
    inputs = {
        "receipt-heavy": (lambda: receipt_heavy(args.profiles, args.receipts), True),
        "mix": (lambda: synthetic_mix(args.mix), True),
        "history": (lambda: history(args.history_customers), False),
    }
    chosen = args.inputs.split(",")
    configure_logging(LogSettings(level="error"))  # as the CLI would; replay alone does not
    if any(name in inputs and inputs[name][1] for name in chosen):
        quix_python()
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_server() as redis_url,
        kafka_broker() as brokers,
    ):
        for name in chosen:
            make, kafka = inputs[name]
            bench_input(
                name.replace("-", "_"), make(), kafka, brokers, redis_url, Path(tmp), args.processes
            )


if __name__ == "__main__":
    main()
