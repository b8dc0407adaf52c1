"""What segments and loyalty cost a replay of the synthetic mix.

    python bench/loyalty.py [--events 500000] [--customers 50000] [--rounds 2]

One input (the synthetic mix spread over 60 days, every receipt of our own accrual: the
POS bonus is taken off, so each one earns a lot; the clock then moves on 45 days, as in
bench/experiments.py: segments cool, lots of the first weeks warn and expire), replayed
in memory with the built-in scenarios: without segments and loyalty; with RFM (fixed
bounds), three tiers, a category multiplier and expiry in 90 days; the same with
quantile bounds. The bar: with them, at least 0.85 of the events per second without.
For scale, a fourth run adds the tier_up, points_expiry and a segment_changed scenario:
the notices they send are work of their own. Each run is a fresh process (the first
replay of a process is faster than later ones in it, which favoured the run that came
first). Rounds alternate the runs; the best of each is compared (machines here are
noisy), and so is each round's own ratio (its runs follow each other, so a slow stretch
of the machine weighs on both sides): the median of those is shown beside it.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from common import ROOT

from flows.replay import replay
from smartcomms.config import LogSettings, Settings
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator

SPAN_S = 60 * 86_400.0
RUN_ON_S = 45 * 86_400.0
LOYALTY = {
    "tiers": [
        {"name": "base", "from_spend": 0, "accrual_percent": 3},
        {"name": "silver", "from_spend": 10000, "accrual_percent": 5},
        {"name": "gold", "from_spend": 30000, "accrual_percent": 7},
    ],
    "category_multipliers": {"молочка": 2},
    "expiry_days": 90,
    "expiry_warning_days": 14,
}
SCENARIOS = {
    "tier_up": {"recipe": "tier_up"},
    "points_expiry": {"recipe": "points_expiry"},
    "lost": {
        "entry": {"on": "segment_changed", "where": {"to": "hibernating"}},
        "reentry_days": 0,
        "steps": [{"id": "offer", "template": "win_back", "vars": {"offer": "300 бонусов"}}],
    },
}
RUNS = ("without", "fixed RFM", "quantile RFM", "fixed RFM and its scenarios")
BARRED = ("fixed RFM", "quantile RFM")


def configuration(run: str) -> dict[str, Any]:
    if run == "without":
        return {}
    return {
        "segments": {"rfm": {"quantiles": run == "quantile RFM"}},
        "loyalty": LOYALTY,
        "scenarios": SCENARIOS if run.endswith("scenarios") else {},
    }


def write_input(path: Path, events: int, customers: int) -> float:
    """The input file, its events spread evenly over `SPAN_S`; the last event's time."""
    start = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    at = start
    with path.open("wb") as out:
        for n, (_r, _k, value) in enumerate(TrafficGenerator(customers, seed=5).events(events)):
            event = orjson.loads(value)
            event.pop("bonus", None)
            at = start + n * SPAN_S / events
            event["ts"] = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
            out.write(orjson.dumps(event) + b"\n")
    return at


def run(path: Path, name: str, until: float) -> tuple[float, Counter[str]]:
    settings = Settings.model_validate(configuration(name))
    out = io.BytesIO()
    with open(os.devnull, "wb") as err:
        started = time.perf_counter()
        replay(settings, path, None, out, err, until)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    triggers = Counter(orjson.loads(line)["trigger"] for line in out.getvalue().splitlines())
    return seconds, triggers


def run_apart(path: Path, name: str, until: float) -> tuple[float, Counter[str]]:
    """`run` in a process of its own."""
    command = [sys.executable, __file__, "--run", name, "--input", str(path), "--until"]
    done = subprocess.run([*command, repr(until)], check=True, capture_output=True)
    result = orjson.loads(done.stdout)
    return result["seconds"], Counter(result["triggers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--run", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(ROOT)
    configure_logging(LogSettings(level="warning"))
    if args.run is not None:  # one run, for run_apart
        seconds, triggers = run(args.input, args.run, args.until)
        sys.stdout.buffer.write(orjson.dumps({"seconds": seconds, "triggers": triggers}))
        return
    best: dict[str, float] = {}
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        until = write_input(path, args.events, args.customers) + RUN_ON_S
        for _ in range(args.rounds):
            rounds.append({})
            for name in RUNS:
                seconds, triggers = run_apart(path, name, until)
                best[name] = min(seconds, best.get(name, seconds))
                rounds[-1][name] = seconds
                shown = ", ".join(f"{t} {n:,}" for t, n in sorted(triggers.items()))
                print(f"{name}: {seconds:.1f} s; notices: {shown}")
    base = args.events / best["without"]
    for name in RUNS:
        rate = args.events / best[name]
        bar = " (bar: >= 0.85)" if name in BARRED else ""
        by_round = statistics.median(r["without"] / r[name] for r in rounds)
        print(
            f"{name}: {rate:,.0f} ev/s, {rate / base:.2f}x without{bar}; "
            f"median of the rounds' ratios {by_round:.2f}"
        )


if __name__ == "__main__":
    main()
