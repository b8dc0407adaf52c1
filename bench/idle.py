"""CPU an idle live flow costs itself and the broker, per ``kafka.fetch_wait_max_ms``.

    python bench/idle.py [--waits 10 100 500] [--seconds 20]

Starts a local Redis and broker with the input topics (3 partitions each), then for each
setting runs the live flow with no traffic and reports the CPU share of the flow process
and of the broker process over ``--seconds`` (after 15 s of start-up). Each input
partition has a consumer of its own, so an idle flow polls the broker
(partitions / wait) times a second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import psutil
from common import ROOT  # noqa: F401  (puts the project on sys.path)

from smartcomms.config import TopicNames
from smartcomms.localstack import kafka_broker, redis_server
from smartcomms.topics import ensure_topics


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU time of ``process`` so far."""
    times = process.cpu_times()
    return times.user + times.system


def broker_process() -> psutil.Process:
    """The local broker started by `kafka_broker` (the only Tansu process)."""
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] and "tansu" in process.info["cmdline"][0]:
            return process
    raise RuntimeError("no broker process found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with redis_server() as redis_url, kafka_broker() as brokers:
        topics = TopicNames()
        ensure_topics(brokers, [*topics.inputs(), topics.notices, topics.dead_letters], 3, {})
        broker = broker_process()
        for wait in args.waits:
            env = {
                **os.environ,
                "SMARTCOMMS_KAFKA__BROKERS": brokers,
                "SMARTCOMMS_REDIS__URL": redis_url,
                "SMARTCOMMS_OBSERVABILITY__PORT": "0",
                "SMARTCOMMS_KAFKA__FETCH_WAIT_MAX_MS": str(wait),
            }
            flow = subprocess.Popen(
                [sys.executable, "-m", "bytewax.run", "flows.live:flow", "-w", "1"], env=env
            )
            try:
                time.sleep(15)
                process = psutil.Process(flow.pid)
                flow_0, broker_0, started = cpu_seconds(process), cpu_seconds(broker), time.time()
                time.sleep(args.seconds)
                elapsed = time.time() - started
                flow_share = (cpu_seconds(process) - flow_0) / elapsed
                broker_share = (cpu_seconds(broker) - broker_0) / elapsed
                print(
                    f"fetch_wait_max_ms {wait:5d}: idle flow {flow_share:6.1%} of a core, "
                    f"broker {broker_share:6.1%}",
                    flush=True,
                )
            finally:
                flow.terminate()
                flow.wait(30)


if __name__ == "__main__":
    main()
