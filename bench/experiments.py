"""What experiments cost a replay, whether its report is exact at scale, and how fast
`smartcomms report` answers over a million customers.

    python bench/experiments.py [--events 1000000] [--customers 100000] [--rounds 2]

One input (the synthetic mix: profiles, then receipts, carts and browsing, spread over
60 days; the clock then moves on 45 days so every chain runs out), replayed in memory
with five marketing scenarios (retention, browse_abandonment, cross_sell, abandoned_cart,
win_back) plus the transactional bonus, first without experiments, then with two
variants and a 10 % control group on each and a 5 % global control group; rounds
alternate the two, the best of each is compared (machines here are noisy).

Exactness is checked against counts made here from the notices and the contract's draws
(not the engine's code): every notice's variant is its customer's, no control customer
got a marketing notice, and the report's ``sent`` per scenario, step and variant is the
number of notices. Then the report's counters go to a local Redis next to 1M customer
documents, and `smartcomms report` is timed as a user runs it (a new process).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
from common import ROOT

from flows.replay import replay
from smartcomms.config import LogSettings, Settings
from smartcomms.localstack import redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.synthetic import TrafficGenerator
from state.batch import BatchWrite
from state.connection import connect
from state.report import ReportCounters
from triggers.scenarios.report import build_report

MARKETING = ("retention", "browse_abandonment", "cross_sell", "abandoned_cart", "win_back")
VARIANTS = [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]
CONTROL, GLOBAL_CONTROL = 10.0, 5.0
SPAN_S = 60 * 86_400.0
RUN_ON_S = 45 * 86_400.0


def configuration(experiments: bool) -> dict[str, Any]:
    scenarios: dict[str, Any] = {
        "retention": {"recipe": "retention"},
        "browse_abandonment": {"recipe": "browse_abandonment"},
        "cross_sell": {"recipe": "cross_sell"},
        "abandoned_cart": {},
        "win_back": {},
    }
    if experiments:
        for scenario in scenarios.values():
            scenario.update(variants=VARIANTS, control_percent=CONTROL)
    return {
        "scenarios": scenarios,
        "experiments": {"global_control_percent": GLOBAL_CONTROL if experiments else 0},
    }


def write_input(path: Path, events: int, customers: int) -> float:
    """The input file, its events spread evenly over `SPAN_S` (so chains of days and weeks
    run and purchases come after their notices); the event time of its last event."""
    start = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
    at = start
    with path.open("wb") as out:
        for n, (_r, _k, value) in enumerate(TrafficGenerator(customers, seed=5).events(events)):
            event = orjson.loads(value)
            at = start + n * SPAN_S / events
            event["ts"] = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
            out.write(orjson.dumps(event) + b"\n")
    return at


def run(path: Path, experiments: bool, until: float) -> tuple[float, bytes, Counter[str]]:
    settings = Settings.model_validate(configuration(experiments))
    out, counts = io.BytesIO(), Counter[str]()
    with open(os.devnull, "wb") as err:
        started = time.perf_counter()
        replay(settings, path, None, out, err, until, counts)  # type: ignore[arg-type]
        return time.perf_counter() - started, out.getvalue(), counts


def draw(salt: str, scenario: str, customer_id: str) -> float:
    name = f"{salt}\x1f{scenario}\x1f{customer_id}".encode()
    return int.from_bytes(blake2b(name, digest_size=8).digest(), "big") / 2.0**64


def check_exact(notices: bytes, counts: Counter[str]) -> dict[str, int]:
    """The report against the notices; raises on any difference."""
    report = build_report(counts, Settings.model_validate(configuration(True)).scenarios)
    sent: Counter[tuple[str, str, str]] = Counter()
    for line in notices.splitlines():
        notice = orjson.loads(line)
        scenario, cid = notice["trigger"], notice["customer_id"]
        if scenario in MARKETING:
            variant = "a" if draw("variant", scenario, cid) < 0.5 else "b"
            assert notice["variant"] == variant, notice
            control = draw("control", scenario, cid) * 100 < CONTROL
            held = draw("global_control", "", cid) * 100 < GLOBAL_CONTROL
            assert not control and not held, f"a control customer got {notice}"
            sent[scenario, notice["step"], variant] += 1
        else:
            assert "variant" not in notice, notice
    for scenario in MARKETING:
        figures = report["scenarios"][scenario]
        for step, values in figures["steps"].items():
            by_variant = sum(sent[scenario, step, v] for v in ("a", "b"))
            assert values["sent"] == by_variant, (scenario, step, values, by_variant)
        for variant, values in figures["variants"].items():
            mine = sum(n for (s, _st, v), n in sent.items() if s == scenario and v == variant)
            assert values["sent"] == mine, (scenario, variant, values, mine)
    return {
        scenario: report["scenarios"][scenario]["converted"]
        + report["scenarios"][scenario]["control_converted"]
        for scenario in MARKETING
    }


def report_seconds(counts: Counter[str], customers: int, tmp: Path) -> tuple[float, float]:
    """Wall time of `smartcomms report` (a new process), and of a bare `smartcomms --help`
    for scale, with the counters in 8 shards next to ``customers`` customer documents."""
    with redis_server() as url:
        client = connect(url)
        store = ReportCounters(client, "bench")
        fields = list(counts.items())
        for shard in range(8):
            writes = BatchWrite(client)
            store.add(writes, str(shard), dict(fields[shard::8]))
            writes.execute()
        pipe = client.pipeline(transaction=False)
        for n in range(customers):
            pipe.set(f"bench:c:{{C{n:07d}}}", b"x" * 200)
            if len(pipe) >= 10_000:
                pipe.execute()
        pipe.execute()
        assert client.dbsize() >= customers
        config = tmp / "config.json"
        config.write_bytes(orjson.dumps(configuration(True)))
        env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "bench", "SMARTCOMMS_REDIS__URL": url}
        command = [sys.executable, "-m", "smartcomms.cli"]
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "report", "--config", str(config)], env=env, capture_output=True, check=True
        )
        seconds = time.perf_counter() - started
        assert orjson.loads(done.stdout) == build_report(
            counts, Settings.model_validate(configuration(True)).scenarios
        )
        started = time.perf_counter()
        subprocess.run([*command, "--help"], env=env, capture_output=True, check=True)
        return seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--report-customers", type=int, default=1_000_000)
    args = parser.parse_args()
    os.chdir(ROOT)
    configure_logging(LogSettings(level="warning"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        until = write_input(path, args.events, args.customers) + RUN_ON_S
        plain: list[float] = []
        tested: list[float] = []
        for _ in range(args.rounds):
            seconds, _notices, _counts = run(path, False, until)
            plain.append(seconds)
            seconds, notices, counts = run(path, True, until)
            tested.append(seconds)
            print(f"round: without {plain[-1]:.1f} s, with experiments {tested[-1]:.1f} s")
        converted = check_exact(notices, counts)
        print(f"report exact against the notices; conversions per scenario: {converted}")
        best_plain, best_tested = min(plain), min(tested)
        added = (best_tested / best_plain - 1) * 100
        print(
            f"{args.events:,} events: without experiments {args.events / best_plain:,.0f} ev/s, "
            f"with {args.events / best_tested:,.0f} ev/s: {added:+.1f} % replay time (bar: <= 10 %)"
        )
        report_s, help_s = report_seconds(counts, args.report_customers, Path(tmp))
        print(
            f"smartcomms report over {args.report_customers:,} customers: {report_s:.2f} s "
            f"wall (a bare `smartcomms --help` takes {help_s:.2f} s; bar: < 2 s)"
        )


if __name__ == "__main__":
    main()
