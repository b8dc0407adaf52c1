"""The engine's batch processor alone (no Kafka, no Bytewax) over the synthetic mix,
against a real Redis: events/s, under the garbage collection a flow process gets
(``tuned``, flows.wiring.tune_gc), Python's default, or none.

    python bench/processor.py [--events 200000] [--customers 50000] [--gc tuned|default|off]
                              [--input mix|receipts] [--store redis|memory] [--live]
                              [--batch 4000] [--state-cache N]

``--input receipts``: the customers' profiles, then receipts of those customers (the
receipt-heavy input of bench/peers.py); ``--store memory``: the state in the process's
memory (state.memory) instead of Redis; ``--live``: the engine as the live flow builds it
(outbox, decision log, console counters, the live state cache, the wall clock: the timer
index is asked on clock ticks only), each batch of ``--batch`` events split by shard as
the flow keys it.

Run it from another checkout's root to compare code (``cd ../before && python
bench/processor.py``): it imports the code next to it.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator

from common import ROOT  # noqa: F401  (puts the project on sys.path)
from peers import receipt_heavy

from flows.clock import EventTimeClock, WallClock
from flows.dataflow import key_of
from flows.stats import Stats
from flows.wiring import processor_factory
from smartcomms.config import Settings
from smartcomms.localstack import redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from triggers.events import Event, Rejection, parse_event

BATCH = 4000
"""events per flow batch: the live flow's engine step gets ~150-400 events per shard with
the default 16 shards (Bytewax gathers several polls of the three partitions)"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--gc", choices=("tuned", "default", "off"), default="tuned")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--input", choices=("mix", "receipts"), default="mix")
    parser.add_argument("--store", choices=("redis", "memory"), default="redis")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--batch", type=int, default=BATCH, help="events per flow batch")
    parser.add_argument("--state-cache", type=int, help="engine.state_cache (default: its default)")
    args = parser.parse_args()
    if args.input == "receipts":
        messages = receipt_heavy(args.customers, args.events - args.customers)
    else:
        messages = TrafficGenerator(args.customers, seed=7, bad_rate=0.001).events(args.events)
    parsed = (parse_event(raw) for _role, _key, raw in messages)
    events = [e for e in parsed if not isinstance(e, Rejection)]
    quiet = Settings.model_validate({"log": {"level": "error"}})
    shards = quiet.engine.shards if args.live else 1
    # keyed before the clock starts, as the flow keys them
    batches = list(shard_batches(events, shards, args.batch))
    configure_logging(quiet.log)
    engine = {} if args.state_cache is None else {"state_cache": args.state_cache}
    with redis_server() as url:

        def run(prefix: str) -> float:
            settings = Settings.model_validate(
                {"log": {"level": "error"}, "redis": {"prefix": prefix}, "engine": engine}
            )
            store = url if args.store == "redis" else None
            processor = processor_factory(
                settings,
                store,
                WallClock() if args.live else EventTimeClock(),
                Stats(),
                live=args.live,
            )()
            if args.gc == "default":
                gc.unfreeze()
                gc.set_threshold(700, 10, 10)
            elif args.gc == "off":
                gc.disable()
            started = time.perf_counter()
            for shard, batch in batches:
                processor.process(shard, batch)
            return time.perf_counter() - started

        run("warm")
        best = min(run(f"run{n}") for n in range(args.runs))
    print(
        f"processor: {len(events) / best:,.0f} events/s ({args.input}, {args.store}, "
        f"{'live' if args.live else 'replay'} mode, gc {args.gc}, best of {args.runs})"
    )


def shard_batches(
    events: list[Event], shards: int, size: int = BATCH
) -> Iterator[tuple[str, list[Event]]]:
    """Each ``size`` events split by shard, as the flow's keyed engine step gets them (one
    shard: the batches as they are)."""
    for first in range(0, len(events), size):
        by_shard: dict[str, list[Event]] = {}
        for event in events[first : first + size]:
            by_shard.setdefault(key_of(event, shards), []).append(event)
        yield from by_shard.items()


if __name__ == "__main__":
    main()
