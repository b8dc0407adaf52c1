"""Replay throughput on a large mixed file, against a Bytewax read-and-parse baseline.

    python bench/replay.py [--events 500000] [--customers 50000]

Writes --events synthetic events (profiles, receipts, carts, orders, logins, browsing) to a
temporary JSONL file and measures in the same run:
  (a) baseline: a Bytewax flow reading the same file and parsing every line with orjson;
  (b) smartcomms replay: validation, dedup, state in a private Redis, all triggers, notices;
and prints events/s of both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.testing import run_main
from common import ROOT  # noqa: F401  (puts the project on sys.path)

from flows.inputs import RawInput
from flows.replay import BatchCallbackSink, JsonLinesSource, replay
from smartcomms.config import Settings
from smartcomms.localstack import redis_server
from smartcomms.synthetic import TrafficGenerator


def parse_or_skip(batch: list[RawInput]) -> list[object]:
    parsed = []
    for line in batch:
        try:
            parsed.append(orjson.loads(line.value))
        except orjson.JSONDecodeError:
            continue  # the file has a few malformed lines on purpose
    return parsed


def baseline(path: Path) -> None:
    flow = Dataflow("read_and_parse")
    lines = op.input("in", flow, JsonLinesSource(path))
    parsed = op.flat_map_batch("parse", lines, parse_or_skip)
    op.output("out", parsed, BatchCallbackSink(lambda _items: None))
    run_main(flow)


def timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--customers", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url:
        path = Path(tmp) / "events.jsonl"
        with path.open("wb") as out:
            generator = TrafficGenerator(customers=args.customers, bad_rate=0.001)
            out.writelines(value + b"\n" for _role, _key, value in generator.events(args.events))
        settings = Settings.model_validate({"log": {"level": "warning"}})
        with open(os.devnull, "wb") as sink:
            base_s = timed(lambda: baseline(path))
            engine_s = timed(lambda: replay(settings, path, redis_url, sink, sink))
    base, engine = args.events / base_s, args.events / engine_s
    print(f"events: {args.events}, customers: {args.customers}")
    print(f"(a) baseline  Bytewax read + orjson parse: {base:9,.0f} ev/s")
    print(f"(b) smartcomms replay:                     {engine:9,.0f} ev/s")
    print(f"ratio replay / baseline: {engine / base:.2f}")


if __name__ == "__main__":
    main()
