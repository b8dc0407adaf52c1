"""Replay keeps its state in Redis or in its own memory: for any input, the same notices,
dead letters, summary and report counts from both (hypothesis)."""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.replay import replay
from smartcomms.config import Settings
from smartcomms.synthetic import TrafficGenerator
from triggers.events import epoch_of

CONFIGS = {
    "built-ins": {},
    "recipes": {
        "scenarios": {
            "welcome": {"recipe": "welcome_series"},
            "browse": {"recipe": "browse_abandonment"},
            "cross": {"recipe": "cross_sell"},
            "retention": {"recipe": "retention"},
        }
    },
    "experiments": {
        "scenarios": {
            "abandoned_cart": {"variants": [{"id": "a"}, {"id": "b"}], "control_percent": 30},
            "browse": {"recipe": "browse_abandonment", "control_percent": 50},
        },
        "experiments": {"global_control_percent": 10},
    },
    "loyalty": {  # far timers wait in day lists on Redis; quantile bounds from sketches
        "segments": {"rfm": {"quantiles": True, "recency_days": [1, 3, 7, 14]}},
        "loyalty": {
            "tiers": [
                {"name": "base", "from_spend": 0, "accrual_percent": 3},
                {"name": "silver", "from_spend": 3000, "accrual_percent": 5},
            ],
            "tier_window_days": 30,
            "expiry_days": 20,
            "expiry_warning_days": 5,
        },
        "scenarios": {
            "tier_up": {"recipe": "tier_up"},
            "points_expiry": {"recipe": "points_expiry"},
        },
    },
}


def outcome(redis_url: str | None, path: Path, config: dict[str, Any], until: float) -> Any:
    out, err, report = io.BytesIO(), io.BytesIO(), Counter[str]()
    stats = replay(Settings.model_validate(config), path, redis_url, out, err, until, report)
    notices = [orjson.loads(line) for line in out.getvalue().splitlines()]
    for notice in notices:
        del notice["created_at"]
    return notices, err.getvalue(), stats.summary(), report


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 10_000),
    customers=st.integers(3, 60),
    count=st.integers(20, 600),
    bad_rate=st.sampled_from([0.0, 0.05]),
    redelivered=st.floats(0.0, 0.2),
    config=st.sampled_from(sorted(CONFIGS)),
    days_after=st.integers(0, 120),
)
def test_redis_and_memory_give_the_same_notices_dead_letters_and_summary(
    redis_url: str,
    tmp_path_factory: Any,
    seed: int,
    customers: int,
    count: int,
    bad_rate: float,
    redelivered: float,
    config: str,
    days_after: int,
) -> None:
    traffic = TrafficGenerator(customers, seed=seed, bad_rate=bad_rate)
    lines = [raw for _role, _key, raw in traffic.events(count)]
    rng = random.Random(seed)
    lines += [rng.choice(lines) for _ in range(int(len(lines) * redelivered))]  # Kafka resends
    path = tmp_path_factory.mktemp("agree") / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    last = max((orjson.loads(line)["ts"] for line in lines if _has_ts(line)), default=None)
    until = (epoch_of(last) if last else 1.8e9) + days_after * 86_400
    in_memory = outcome(None, path, CONFIGS[config], until)
    assert in_memory == outcome(redis_url, path, CONFIGS[config], until)
    assert in_memory[0] or in_memory[2]["events"]  # the input did something


def _has_ts(line: bytes) -> bool:
    try:
        event = orjson.loads(line)
        epoch_of(event["ts"])
    except Exception:
        return False
    return True
