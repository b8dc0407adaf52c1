"""Throughput and latency of the live flow, against a Bytewax passthrough baseline.

    python bench/throughput.py [--events 200000] [--rate 5000] [--latency-seconds 10]
                               [--processes 1[,2...]]

Starts a local Redis and broker, fills the input topics with a realistic synthetic mix, then
measures in the same run:
  (a) baseline: Bytewax Kafka -> Kafka passthrough over the same messages;
  (b) smartcomms: the live flow (parse, dedup, Redis state, bonus_earned, notices);
and prints events/s of both and their ratio. Then it runs the live flow as a process, produces
receipts at a fixed rate and reports receipt -> notice latency p50/p99 (time the notice is
read minus the receipt's event time, which the producer sets to the wall clock), and the
flow's own time from its /metrics (consumed -> notice acknowledged by the broker: what is
left when the local broker's fetch deadline is taken out, flows.flowtime). ``--processes
1,2`` runs the latency part once per count, the flow as a Bytewax cluster of that many
processes (its own time summed over their /metrics): what scaling out does to latency.
"""

from __future__ import annotations

import argparse
import threading
import time
import urllib.request
from datetime import UTC, datetime

import bytewax.operators as op
import orjson
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.testing import run_main
from common import percentile, start_cluster
from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from flows.live import build_flow
from smartcomms.config import Settings, TopicNames
from smartcomms.kafka import producer_config
from smartcomms.localstack import free_port, kafka_broker, redis_server
from smartcomms.simulate import produce
from smartcomms.synthetic import TrafficGenerator
from smartcomms.topics import assignments, ensure_topics

PARTITIONS = 3


def passthrough(settings: Settings, out_topic: str = "passthrough") -> Dataflow:
    """Every message of the input topics copied to ``out_topic`` (the baseline)."""
    kafka = settings.kafka
    flow = Dataflow("passthrough")
    messages = op.input("in", flow, KafkaSource([kafka.brokers], kafka.topics.inputs(), tail=False))
    out = op.map("to_sink", messages, lambda m: KafkaSinkMessage(m.key, m.value))
    op.output("out", out, KafkaSink([kafka.brokers], out_topic))
    return flow


def timed(flow: Dataflow) -> float:
    started = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - started


def latency(
    settings: Settings, rate: float, seconds: float, processes: int = 1, name: str = "latency"
) -> tuple[list[float], Histogram]:
    """Receipt -> notice latencies (s) with the live flow running as its own process (or a
    cluster of ``processes``), and the flow's own time (consumed -> produce acknowledged)
    from their /metrics; ``name``: of the run's topics and Redis prefix."""
    metrics_ports = [free_port() for _ in range(processes)]
    topics = TopicNames(**{f: f"{f}-{name}" for f in TopicNames.model_fields})
    kafka = settings.kafka.model_copy(update={"topics": topics})
    ensure_topics(
        kafka.brokers, [*topics.inputs(), topics.notices, topics.dead_letters], PARTITIONS, {}
    )
    env = {
        "SMARTCOMMS_KAFKA__BROKERS": kafka.brokers,
        "SMARTCOMMS_REDIS__URL": str(settings.redis.url),
        "SMARTCOMMS_REDIS__PREFIX": name,
        "SMARTCOMMS_LOG__LEVEL": "warning",
        # Tansu answers a fetch only at its deadline (Apache Kafka answers on arrival)
        "SMARTCOMMS_KAFKA__FETCH_WAIT_MAX_MS": "10",
    }
    env.update(
        {
            f"SMARTCOMMS_KAFKA__TOPICS__{f.upper()}": getattr(topics, f)
            for f in TopicNames.model_fields
        }
    )
    own_env = [{"SMARTCOMMS_OBSERVABILITY__PORT": str(port)} for port in metrics_ports]
    flows = start_cluster("flows.live:flow", processes, env, own_env)  # its own time: /metrics
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.brokers,
            "group.id": "bench",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    consumer.assign(assignments(kafka.brokers, [kafka.topics.notices]))
    generator = TrafficGenerator(customers=5000, seed=99)
    producer = Producer(producer_config(kafka.brokers, {}))
    for _role, key, value in generator.events(5000):  # profiles of the latency customers
        producer.produce(kafka.topics.customers, value, key)
    producer.flush(30)
    time.sleep(3 + processes)  # let the flow start and catch up
    done = threading.Event()

    def produce_receipts() -> None:
        sent, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            event = generator.receipt()
            event["ts"] = datetime.now(UTC).isoformat(timespec="microseconds")
            producer.produce(kafka.topics.receipts, orjson.dumps(event))
            sent += 1
            if sent % 50 == 0:
                producer.poll(0)
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush(30)
        done.set()

    thread = threading.Thread(target=produce_receipts)
    thread.start()
    samples: list[float] = []
    quiet = 0
    while not done.is_set() or quiet < 10:
        batch = consumer.consume(1000, 0.2)
        quiet = 0 if batch else quiet + 1
        now = time.time()
        for msg in batch:
            if not msg.error():
                ts = orjson.loads(msg.value())["event_ts"]
                samples.append(now - datetime.fromisoformat(ts).timestamp())
    thread.join()
    consumer.close()
    own = summed([flow_seconds(port) for port in metrics_ports])
    for flow in flows:
        flow.terminate()
    for flow in flows:
        flow.wait(30)
    return samples, own


Histogram = list[tuple[float, float]]
"""(upper bound s, cumulative count) of a Prometheus histogram"""


def flow_seconds(port: int) -> Histogram:
    """The buckets of the flow's ``smartcomms_flow_seconds``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        (float(sample.labels["le"]), sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "smartcomms_flow_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    ]


def summed(histograms: list[Histogram]) -> Histogram:
    """The buckets of several processes' histograms added up (the same bounds)."""
    counts: dict[float, float] = {}
    for histogram in histograms:
        for bound, count in histogram:
            counts[bound] = counts.get(bound, 0.0) + count
    return sorted(counts.items())


def bucket_percentile(buckets: Histogram, p: float) -> float:
    """The upper bound of the bucket holding the p-th percentile."""
    total = buckets[-1][1]
    return next(bound for bound, count in buckets if count >= total * p / 100)


def report_latency(samples: list[float], own: Histogram, rate: float, processes: int) -> None:
    """Prints the end-to-end percentiles and the flow's own time."""
    if samples:
        print(
            f"receipt->notice latency at {rate:,.0f} ev/s, the flow as {processes} "
            f"process(es), over {len(samples)} notices: "
            f"p50 {percentile(samples, 50) * 1000:.1f} ms, "
            f"p99 {percentile(samples, 99) * 1000:.1f} ms"
        )
    if own and own[-1][1]:
        print(
            f"the flow's own time (consumed -> produce acknowledged) over {own[-1][1]:,.0f} "
            f"notices: p50 <= {bucket_percentile(own, 50) * 1000:.1f} ms, "
            f"p99 <= {bucket_percentile(own, 99) * 1000:.1f} ms (histogram bucket bounds)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=5_000, help="latency run, events/s")
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument(
        "--processes",
        default="1",
        help="latency runs, one per count (comma-separated): the flow as that many processes",
    )
    args = parser.parse_args()

    with redis_server() as redis_url, kafka_broker() as brokers:
        settings = Settings.model_validate(
            {
                "kafka": {"brokers": brokers},
                "redis": {"url": redis_url},
                "log": {"level": "warning"},
                "observability": {"port": 0},
            }
        )
        topics = settings.kafka.topics
        ensure_topics(
            brokers,
            [*topics.inputs(), topics.notices, topics.dead_letters, "passthrough"],
            PARTITIONS,
            {},
        )
        produce(settings, args.events, 0, args.customers, seed=7, bad_rate=0.001)
        base_s = timed(passthrough(settings))
        engine_s = timed(build_flow(settings, stop_at_end=True))
        base, engine = args.events / base_s, args.events / engine_s
        print(f"events: {args.events}, customers: {args.customers}, partitions: {PARTITIONS}")
        print(f"(a) baseline  Bytewax Kafka->Kafka passthrough: {base:9,.0f} ev/s")
        print(f"(b) smartcomms live flow (1 process, 1 worker): {engine:9,.0f} ev/s")
        print(f"ratio smartcomms / passthrough: {engine / base:.2f}")
        for run, processes in enumerate(int(n) for n in args.processes.split(",")):
            name = f"latency{run}"
            samples, own = latency(settings, args.rate, args.latency_seconds, processes, name)
            report_latency(samples, own, args.rate, processes)


if __name__ == "__main__":
    main()
