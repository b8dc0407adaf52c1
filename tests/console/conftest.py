"""A console over a real Redis filled by a replay of the synthetic mix with scenarios from
the recipes, an A/B test and a control group."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from smartcomms.synthetic import TrafficGenerator

CONFIG = """
scenarios:
  welcome: {recipe: welcome_series}
  retention:
    recipe: retention
    control_percent: 20
    variants: [{id: a, weight: 50}, {id: b, weight: 50}]
  browse: {recipe: browse_abandonment}
  cross: {recipe: cross_sell}
segments:
  rfm:
    recency_days: [7, 30, 90, 180]
    frequency: [2, 4, 8, 16]
    monetary: [1000, 5000, 20000, 50000]
"""
EVENTS = 12_000
CUSTOMERS = 1_500


@dataclass(frozen=True)
class Replayed:
    env: dict[str, str]
    """the environment of a command over the replay's Redis (prefix, config)"""
    redis_url: str
    config: Path
    summary: dict[str, Any]
    report: dict[str, Any]
    events: Path
    notices: Path


def write_events(path: Path, duplicates: int = 50) -> None:
    """The synthetic mix with a bad message now and then; the first ``duplicates``
    receipts come twice (a redelivery)."""
    lines = [
        value
        for _r, _k, value in TrafficGenerator(CUSTOMERS, bad_rate=0.003).events(
            EVENTS, history=True
        )
    ]
    receipts = [line for line in lines if line.startswith(b'{"event_id":"rcpt-')]
    path.write_bytes(b"\n".join([*lines, *receipts[:duplicates], *later(receipts)]) + b"\n")


def later(receipts: list[bytes], hours: float = 3.0) -> list[bytes]:
    """Every other customer who bought buys again ``hours`` later: after the nudges that
    came within the hour, so scenarios convert."""
    again = []
    for line in receipts[::2]:
        receipt = orjson.loads(line)
        ts = datetime.fromisoformat(receipt["ts"]) + timedelta(hours=hours)
        receipt["ts"] = ts.isoformat(timespec="milliseconds")
        receipt["event_id"] += "-again"
        receipt["receipt_id"] += "-again"
        again.append(orjson.dumps(receipt))
    return sorted(again, key=lambda line: orjson.loads(line)["ts"])


@pytest.fixture(scope="module")
def replayed(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    folder = tmp_path_factory.mktemp("console")
    events, config, report = folder / "events.jsonl", folder / "config.yaml", folder / "r.json"
    notices = folder / "notices.jsonl"
    write_events(events)
    config.write_text(CONFIG)
    prefix = f"c{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": prefix}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "replay",
            str(events),
            "--config",
            str(config),
            "--redis-url",
            redis_url,
            "--report",
            str(report),
            "--out",
            str(notices),
            "--until",
            "2027-02-01T00:00:00Z",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stderr.rsplit("summary: ", 1)[1])
    env["SMARTCOMMS_REDIS__PREFIX"] = f"{prefix}-replay"
    return Replayed(
        env, redis_url, config, summary, orjson.loads(report.read_bytes()), events, notices
    )


@pytest.fixture(scope="module")
def console_url(replayed: Replayed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`smartcomms console` over the replay, on a free port."""
    log = tmp_path_factory.mktemp("console-log") / "stderr"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smartcomms.cli",
                "console",
                "--config",
                str(replayed.config),
                "--redis-url",
                replayed.redis_url,
                "--port",
                "0",
            ],
            env=replayed.env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    with proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("console: http://"), line + log.read_text()
            yield line.split()[1].rstrip("/")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
