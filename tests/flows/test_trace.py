"""`smartcomms trace --customer`: the engine's decisions kept per customer (live mode)."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import redis

from channels.policy import Policy
from flows.clock import ClockTick, EventTimeClock
from flows.processor import BatchProcessor
from flows.stats import Stats
from smartcomms.config import CHANNELS
from state.customers import CustomerStore
from state.timers import TimerIndex
from tests.events import customer, receipt
from tests.scenario import add
from triggers.engine import Rules
from triggers.events import epoch_of, parse_event


def test_trace_shows_emitted_held_and_suppressed_with_reasons(
    redis_client: redis.Redis, redis_url: str
) -> None:
    processor = BatchProcessor(
        CustomerStore(redis_client, "tr", 3600),
        TimerIndex(redis_client, "tr"),
        Rules(),
        Policy(CHANNELS),
        7 * 86_400.0,
        EventTimeClock(),
        Stats(),
        keep_decisions_s=30 * 86_400.0,
    )
    events = [
        customer(
            "C1",
            contacts={"push_token": "t"},
            consents={"push": True},
            ts="2026-09-01T10:00:00+03:00",
        ),
        add("2026-11-20T10:00:00+03:00"),  # due 11:00: emitted
        add("2026-11-20T12:00:00+03:00", sku="mug"),  # due 13:00: capped (1 per day)
        add("2026-11-21T20:30:00+03:00", sku="tea"),  # due 21:30: held to 09:00
    ]
    processor.process("0", [parse_event(orjson.dumps(e)) for e in events])  # type: ignore[misc]
    processor.process("0", [ClockTick(epoch_of("2026-11-22T10:00:00+03:00"))])
    processor.process(
        "0",
        [
            parse_event(
                orjson.dumps(  # type: ignore[list-item]
                    receipt("r9", "C1", 100, ts="2026-11-22T11:00:00+03:00")
                )
            )
        ],
    )

    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "tr"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "trace",
            "--customer",
            "C1",
            "--redis-url",
            redis_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
    summary = [(d["trigger"], d["outcome"], d.get("reason")) for d in decisions]
    assert summary == [  # newest first
        ("bonus_earned", "emitted", None),
        ("abandoned_cart", "emitted", None),  # the held one, released at 09:00
        ("abandoned_cart", "held", None),
        ("abandoned_cart", "suppressed", "capped"),
        ("abandoned_cart", "emitted", None),
    ]
    assert decisions[2]["until"].startswith("2026-11-22T06:00:00")  # 09:00 Moscow
    assert decisions[4]["channels"] == ["push"] and decisions[4]["notice_id"]
    nobody = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "trace",
            "--customer",
            "C404",
            "--redis-url",
            redis_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (nobody.returncode, nobody.stdout, nobody.stderr) == (
        1,
        "",
        "no customer 'C404' in tr:*\n",
    )
