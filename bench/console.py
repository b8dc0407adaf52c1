"""How fast the console's pages answer with a million customers in Redis.

    python bench/console.py [--customers 1000000] [--requests 30]

A replay of the synthetic mix (with the recipes' scenarios, an A/B test and a control
group) fills a local Redis with real counters and customer documents; its counters are
then spread over 16 shards (as a live flow with the default ``engine.shards`` keeps them),
and the documents and timers grow to ``--customers`` by copying real ones. `smartcomms
console` runs as a user starts it; each page is fetched ``--requests`` times over HTTP
(wall time at the client: rendering, Redis and the network stack). Bars: a page < 300 ms,
a customer lookup < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, percentile

from smartcomms.config import CHANNELS
from smartcomms.localstack import redis_server
from smartcomms.synthetic import TrafficGenerator
from state.connection import connect

CONFIG = """
scenarios:
  welcome: {recipe: welcome_series}
  retention: {recipe: retention, control_percent: 10, variants: [{id: a}, {id: b}]}
  browse: {recipe: browse_abandonment}
  cross: {recipe: cross_sell}
segments:
  rfm: {recency_days: [7, 30, 90, 180], frequency: [2, 4, 8, 16],
        monetary: [1000, 5000, 20000, 50000]}
"""
SHARDS = 16
PAGES = ("/", "/scenarios", "/scenarios/retention", "/delivery", "/chains")


def fill(url: str, tmp: Path, customers: int) -> str:
    """Replay into Redis, then spread and grow; the prefix the console reads."""
    events, config = tmp / "events.jsonl", tmp / "config.yaml"
    config.write_text(CONFIG)
    with events.open("wb") as out:
        for _role, _key, value in TrafficGenerator(20_000, bad_rate=0.002).events(
            100_000, history=True
        ):
            out.write(value + b"\n")
    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "bench"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "replay",
            str(events),
            "--config",
            str(config),
            "--redis-url",
            url,
            "--out",
            os.devnull,
            "--until",
            "2027-01-15T00:00:00Z",
        ],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    prefix = "bench-replay"
    client = connect(url)
    for name in ("report", "activity"):  # one shard's counters over SHARDS
        counts = client.hgetall(f"{prefix}:{name}:{{0}}")
        pipe = client.pipeline(transaction=True)
        pipe.delete(f"{prefix}:{name}:{{0}}")
        for index, (field, count) in enumerate(counts.items()):
            shard = str(index % SHARDS)
            pipe.hincrby(f"{prefix}:{name}:{{{shard}}}", field, int(count))
            pipe.sadd(f"{prefix}:{name}-shards", shard)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    rng = random.Random(3)
    for shard in map(str, range(SHARDS)):  # the dispatcher's, which a replay has not run
        for channel in CHANNELS:
            for field in (f"delivered|1|{channel}", f"delivered|2|{channel}", f"sends|{channel}"):
                pipe.hincrby(f"{prefix}:delivery:{{{shard}}}", field, rng.randrange(1, 10**5))
        pipe.hincrby(f"{prefix}:delivery:{{{shard}}}", "unreachable", rng.randrange(1, 10**4))
        pipe.sadd(f"{prefix}:delivery-shards", shard)
    pipe.execute()
    document = client.get(f"{prefix}:c:{{C0000001}}")
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for n in range(20_000, customers):
        pipe.set(f"{prefix}:c:{{C{n:07d}}}", document)
        pipe.zadd(f"{prefix}:timers:{{{n % SHARDS}}}", {f"c:C{n:07d}": now + n})
        if len(pipe) >= 20_000:
            pipe.execute()
    pipe.execute()
    print(f"Redis: {client.dbsize():,} keys, {client.info('memory')['used_memory_human']}")
    return prefix


def fetch(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        answer.read()
        assert answer.status == 200
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        prefix = fill(url, Path(tmp), args.customers)
        env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": prefix}
        console = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smartcomms.cli",
                "console",
                "--config",
                str(Path(tmp) / "config.yaml"),
                "--redis-url",
                url,
                "--port",
                "0",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert console.stdout is not None
            base = console.stdout.readline().split()[1].rstrip("/")
            rng = random.Random(7)
            lookups = [f"/customers?id=C{rng.randrange(args.customers):07d}" for _ in range(9)]
            print(f"{'page':34} {'median ms':>10} {'p95 ms':>8}")
            for page in (*PAGES, "/customers?id=C…"):
                paths = lookups if page.startswith("/customers") else [page]
                fetch(base + paths[0])  # warm: the first answer compiles the templates
                times = [fetch(base + paths[i % len(paths)]) for i in range(args.requests)]
                print(f"{page:34} {percentile(times, 50):10.1f} {percentile(times, 95):8.1f}")
        finally:
            console.terminate()
            console.wait(timeout=30)


if __name__ == "__main__":
    main()
