"""Bad input never stops the flow and never reaches the state: every malformed event is a
dead letter with a reason, every good one is applied as if the bad ones were not there."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.replay import replay
from smartcomms.config import Settings
from smartcomms.synthetic import TrafficGenerator
from tests.events import customer, receipt
from triggers.events import Rejection, as_json, parse_event

KINDS = {"not_json", "not_object", "unknown_type", "invalid"}
GOOD = [
    receipt("r1", "C1", 1990.0),
    customer("C1", first_name="Анна", contacts={"phone": "+79990001122"}, consents={"sms": True}),
    {
        "event_id": "c1",
        "type": "add_to_cart",
        "ts": "2026-11-22T10:00:00+03:00",
        "anonymous_id": "D1",
        "sku": "kettle",
        "price": 1990.0,
    },
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A good event with one field replaced by anything, removed, or made huge."""
    event: dict[str, Any] = dict(draw(st.sampled_from(GOOD)))
    field = draw(st.sampled_from(sorted(event)))
    action = draw(st.sampled_from(["replace", "remove", "huge"]))
    if action == "replace":
        event[field] = draw(json_values)
    elif action == "remove":
        del event[field]
    else:
        event[field] = "я" * draw(st.integers(257, 100_000))
    return orjson.dumps(event)


malformed = (
    st.binary(max_size=300)  # broken JSON, invalid UTF-8
    | json_values.map(orjson.dumps)  # JSON that is not an event
    | mutated()
    | st.integers(1000, 3000).map(lambda depth: b"[" * depth + b"]" * depth)  # deep nesting
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(malformed)
def test_any_input_is_an_event_or_a_reasoned_rejection(raw: bytes) -> None:
    parsed = parse_event(raw)  # must never raise
    if isinstance(parsed, Rejection):
        assert parsed.raw == raw and parsed.reason and parsed.kind in KINDS
        assert len(parsed.reason) <= 500
    else:  # some mutations stay valid: then the state gets only bounded values
        assert len(as_json(parsed)) < 300_000


def corpus(count: int, seed: int) -> list[bytes]:
    """``count`` surely malformed lines (no newline inside), one of each kind in turn."""
    rng = random.Random(seed)
    base = orjson.loads(orjson.dumps(GOOD[0]))
    makers = [
        lambda: b'{"type": "receipt", "event_id": ' + bytes([rng.randrange(33, 127)]),
        lambda: bytes([0xFF, 0xFE, rng.randrange(11, 256)]) + b'{"type":"receipt"}',
        lambda: orjson.dumps({**base, "total": rng.choice(["abc", None, [], {}])}),
        lambda: orjson.dumps({**base, "type": rng.choice(["refund", [], {"x": 1}, 7])}),
        lambda: orjson.dumps({**base, "ts": rng.choice(["yesterday", "2026-13-40T25:00:00Z", 0])}),
        lambda: orjson.dumps(
            {**base, "lines": [{"sku": "s", "qty": -rng.randrange(1, 9), "price": 1, "amount": 1}]}
        ),
        lambda: b"[" * 2000 + b"]" * 2000,
        lambda: orjson.dumps(customer("C1", first_name="я" * rng.randrange(257, 50_000))),
        lambda: orjson.dumps(customer("C1", consents={"sms": "yes"})),
        lambda: orjson.dumps(rng.choice([[], 1, "receipt", None])),
    ]
    return [makers[n % len(makers)]() for n in range(count)]


def replay_lines(path: Path, lines: list[bytes], redis_url: str) -> tuple[list[dict], Any, bytes]:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    out, err = io.BytesIO(), io.BytesIO()
    stats = replay(Settings(), path, redis_url, out, err)
    notices = [orjson.loads(line) for line in out.getvalue().splitlines()]
    for notice in notices:
        notice.pop("created_at")
    return notices, stats, err.getvalue()


def test_ten_thousand_bad_events_in_good_traffic(redis_url: str, tmp_path: Path) -> None:
    good = [raw for _topic, _key, raw in TrafficGenerator(300, seed=11).events(5000)]
    bad = corpus(10_000, seed=3)
    assert all(b"\n" not in line for line in bad)
    mixed = list(good)
    rng = random.Random(5)
    for line in bad:
        mixed.insert(rng.randrange(len(mixed) + 1), line)
    clean_notices, clean_stats, _ = replay_lines(tmp_path / "clean.jsonl", good, redis_url)
    notices, stats, err = replay_lines(tmp_path / "mixed.jsonl", mixed, redis_url)
    assert notices == clean_notices and notices  # the good traffic applied exactly the same
    assert stats.events == clean_stats.events and stats.duplicates == clean_stats.duplicates
    assert sum(stats.dead_letters.values()) == len(bad)
    assert set(stats.dead_letters) <= KINDS and len(stats.dead_letters) == len(KINDS)
    assert err.count(b"dead letter at ") == len(bad)
