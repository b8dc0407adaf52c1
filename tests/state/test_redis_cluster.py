"""The engine, replay and the dispatcher store on a 3-primary Redis Cluster give the same
results as on one Redis server: same notices, same customer documents, same timer index."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import orjson
from msgspec.structs import asdict

from channels.cascade import Dispatch, begin_send
from flows.clock import EventTimeClock
from flows.dataflow import key_of
from flows.replay import replay
from flows.stats import Stats
from flows.wiring import processor_factory
from smartcomms.config import Settings
from smartcomms.synthetic import TrafficGenerator
from state.connection import RedisClient, connect, is_cluster
from state.customers import CustomerStore
from state.dispatches import DispatchStore
from state.timers import TimerIndex
from triggers.events import Event, parse_event

SHARDS = 4
BATCH = 400


def traffic() -> list[list[Event]]:
    """Synthetic traffic (profiles, receipts, carts, logins; carts come due on the way), in
    the batches one worker would see."""
    events = [parse_event(raw) for _topic, _key, raw in TrafficGenerator(300, seed=3).events(6000)]
    good = [e for e in events if not hasattr(e, "reason")]
    return [good[i : i + BATCH] for i in range(0, len(good), BATCH)]  # type: ignore[misc]


def run_engine(url: str, prefix: str) -> tuple[list[dict[str, Any]], dict[str, Any], set[str]]:
    """Notices, customer documents and timer index members after the whole traffic."""
    settings = Settings.model_validate(
        {
            "redis": {"url": url, "prefix": prefix},
            "quiet_hours": {"enabled": False},
            # the traffic spans ~2 minutes of event time: carts come due within it
            "triggers": {"abandoned_cart": {"delay_minutes": 0.2}},
            # counts co-purchases (Lua scripts in the batch's pipelines) from the start
            "scenarios": {"cross_sell": {"recipe": "cross_sell"}},
        }
    )
    processor = processor_factory(settings, url, EventTimeClock(), Stats(), live=True)()
    notices = []
    for batch in traffic():
        by_shard: dict[str, list[Event]] = {}
        for event in batch:
            by_shard.setdefault(key_of(event, SHARDS), []).append(event)
        for shard in sorted(by_shard):
            for _customer, notice in processor.process(shard, by_shard[shard]):
                decoded = orjson.loads(notice)
                decoded.pop("created_at")  # wall-clock moment of emission
                notices.append(decoded)
    client: RedisClient = connect(url)
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:c:*", count=1000))
    subjects = ["c:" + key.split("{", 1)[1].rstrip("}") for key in keys]
    documents = {s: asdict(st) for s, st in CustomerStore(client, prefix, 0).load(subjects).items()}
    timers = TimerIndex(client, prefix)
    pending = {s for shard in range(SHARDS) for s in timers.due(str(shard), float("inf"))}
    client.close()
    return notices, documents, pending


def test_the_engine_on_a_cluster_matches_one_server(redis_url: str, redis_cluster_url: str) -> None:
    prefix = f"eq{uuid.uuid4().hex[:6]}"
    on_server = run_engine(redis_url, prefix)
    on_cluster = run_engine(redis_cluster_url, prefix)
    notices, documents, pending = on_server
    assert {n["trigger"] for n in notices} == {"bonus_earned", "abandoned_cart"}
    assert len(documents) == 300 and pending
    assert on_cluster == on_server


def test_dispatch_claims_and_deadlines_on_a_cluster(redis_cluster_url: str) -> None:
    client: RedisClient = connect(redis_cluster_url)
    assert is_cluster(client)
    store = DispatchStore(client, f"d{uuid.uuid4().hex[:6]}")
    notices = [
        {
            "notice_id": f"n{i}",
            "customer_id": f"C{i}",
            "channels": ["push", "sms"],
            "template": "bonus_earned",
            "vars": {},
        }
        for i in range(50)
    ]  # customers on many slots
    dispatches = {(n["customer_id"], n["notice_id"]): Dispatch.of_notice(n) for n in notices}
    for dispatch in dispatches.values():
        begin_send(dispatch, 100.0)  # a claimed send: due at once if its process dies
    store.save("0", dispatches, new=list(dispatches))
    assert store.load(list(dispatches)) == dispatches
    assert sorted(store.due("0", 100.0)) == sorted(dispatches)
    assert store.customer_of("n7") == "C7"
    client.close()


def replay_notices(url: str, events: Path) -> list[dict[str, Any]]:
    out, err = io.BytesIO(), io.BytesIO()
    settings = Settings.model_validate({"redis": {"url": url}, "quiet_hours": {"enabled": False}})
    replay(settings, events, url, out, err)
    notices = [orjson.loads(line) for line in out.getvalue().splitlines()]
    for notice in notices:
        notice.pop("created_at")
    return notices


def test_replay_on_a_cluster_matches_one_server_and_leaves_nothing(
    redis_url: str, redis_cluster_url: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"".join(raw + b"\n" for _t, _k, raw in TrafficGenerator(200, seed=5).events(3000))
    )
    on_cluster = replay_notices(redis_cluster_url, events)
    assert on_cluster and on_cluster == replay_notices(redis_url, events)
    client: RedisClient = connect(redis_cluster_url)
    assert not [k for k in client.scan_iter(match="sc-replay-*", count=1000)]
    client.close()
