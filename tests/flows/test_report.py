"""The scenario report of a replay, against a count made here by hand from the events, the
notices and the contract's rules; on Redis and in memory; unchanged by redelivered events;
and `smartcomms report` live from Redis giving the same."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson
import pytest

from flows.replay import replay, replay_prefix
from smartcomms.config import Settings
from tests.backends import Backend
from tests.events import customer, jsonl, receipt
from triggers.events import epoch_of
from triggers.scenarios.report import build_report

DAY = 86_400.0
START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
CUSTOMERS = 400
TEMPLATES = {
    name: {"default": {"text": f"{name} {{{{ first_name }}}}"}}
    for name in ("hello_a", "hello_b", "later", "thanks")
}
CONFIG: dict[str, Any] = {
    "scenarios": {
        "bonus_earned": {"enabled": False},
        "abandoned_cart": {"enabled": False},
        "win_back": {"enabled": False},
        "welcome": {
            "entry": {"on": "registered"},
            "control_percent": 25,
            "variants": [{"id": "a", "weight": 60}, {"id": "b", "weight": 40}],
            "attribution_days": 5,
            "steps": [
                {"id": "d1", "after": 0, "template": {"a": "hello_a", "b": "hello_b"}},
                {
                    "id": "d3",
                    "after": "2d",
                    "if": {"purchases_since_entry": 0},
                    "template": "later",
                },
            ],
        },
        "thanks": {  # transactional: the global control group still gets it
            "kind": "transactional",
            "entry": {"on": "purchase"},
            "reentry_days": 0,
            "steps": [{"id": "t", "after": 0, "template": "thanks"}],
        },
    },
    "experiments": {"global_control_percent": 10},
    "templates": TEMPLATES,
    "quiet_hours": {"enabled": False},
}


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def events(seed: int = 5) -> list[dict[str, Any]]:
    """Registrations, then purchases at random moments of the next three weeks."""
    rng = random.Random(seed)
    out: list[tuple[datetime, dict[str, Any]]] = []
    for i in range(CUSTOMERS):
        cid = f"C{i}"
        registered = START + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        out.append(
            (
                registered,
                customer(
                    cid,
                    ts=iso(registered),
                    first_name="Анна",
                    registered_at=iso(registered - timedelta(minutes=1)),
                    contacts={"email": f"{cid}@example.ru"},
                    consents={"email": True},
                ),
            )
        )
        for n in range(rng.choice((0, 0, 1, 2, 3))):
            bought = registered + timedelta(minutes=rng.randrange(1, 21 * 24 * 60))
            total = float(rng.randrange(100, 5000))
            out.append((bought, receipt(f"r{i}-{n}", cid, total, ts=iso(bought))))
    out.sort(key=lambda pair: pair[0])
    return [event for _at, event in out]


def draw(salt: str, scenario: str, customer_id: str) -> float:
    """The contract's draw, written again here (the count below must not use the engine's)."""
    name = f"{salt}\x1f{scenario}\x1f{customer_id}".encode()
    return int.from_bytes(blake2b(name, digest_size=8).digest(), "big") / 2.0**64


def hand_count(evts: list[dict[str, Any]], notices: list[dict[str, Any]]) -> dict[str, Any]:
    """The welcome scenario's figures, counted from the events and the notices."""
    window = 5 * DAY
    purchases: dict[str, list[tuple[float, float]]] = {}
    entry: dict[str, float] = {}
    for event in evts:
        if event["type"] == "customer":
            entry[event["customer_id"]] = epoch_of(event["ts"])
        else:
            purchases.setdefault(event["customer_id"], []).append(
                (epoch_of(event["ts"]), event["total"])
            )
    sent = [n for n in notices if n["trigger"] == "welcome"]
    figures: Counter[str] = Counter()
    touches: dict[str, list[tuple[float, str]]] = {}
    for notice in sent:
        figures[f"sent:{notice['step']}"] += 1
        figures[f"sent:{notice['variant']}"] += 1
        touches.setdefault(notice["customer_id"], []).append(
            (epoch_of(notice["due_ts"]), notice["step"])
        )
    for cid, entered in entry.items():
        variant = "a" if draw("variant", "welcome", cid) < 0.6 else "b"
        control = draw("control", "welcome", cid) < 0.25 or draw("global_control", "", cid) < 0.10
        bought = sorted(purchases.get(cid, []))
        figures["entered"] += 1
        if control:  # what would have been sent: d1 at entry, d3 two days on if no purchase
            figures["control"] += 1
            would = [(entered, "d1")]
            if not any(entered <= at <= entered + 2 * DAY for at, _t in bought):
                would.append((entered + 2 * DAY, "d3"))
            touches[cid] = would
            figures["step_control"] += len(would)
        else:
            figures[f"entered:{variant}"] += 1
        for at, total in bought:  # the first purchase within a window converts
            inside = [step for t, step in touches.get(cid, []) if t < at <= t + window]
            if inside:
                group = "control_" if control else ""
                figures[f"{group}converted"] += 1
                figures[f"{group}revenue"] += round(total * 100)
                if not control:
                    figures[f"converted:{variant}"] += 1
                    figures[f"converted:{inside[-1]}"] += 1
                break
    return dict(figures)


def run_replay(
    backend_url: str | None, tmp_path: Path, evts: list[dict[str, Any]], name: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(jsonl(evts))  # type: ignore[arg-type]
    settings = Settings.model_validate({**CONFIG, "redis": {"prefix": f"rep{name}"}})
    out, err, counts = io.BytesIO(), io.BytesIO(), Counter[str]()
    until = epoch_of("2026-12-01T00:00:00+00:00")
    replay(settings, path, backend_url, out, err, until, counts)
    notices = [orjson.loads(line) for line in out.getvalue().splitlines()]
    return notices, build_report(counts, settings.scenarios)


def test_the_report_of_a_replay_is_the_hand_count(backend: Backend, tmp_path: Path) -> None:
    evts = events()
    notices, report = run_replay(backend.url, tmp_path, evts, backend.name)
    hand = hand_count(evts, notices)
    welcome = report["scenarios"]["welcome"]
    steps, variants = welcome["steps"], welcome["variants"]
    assert welcome["entered"] == hand["entered"] == CUSTOMERS
    assert welcome["control"] == hand["control"]
    assert 0.25 < hand["control"] / CUSTOMERS < 0.42  # 25 % and 10 %, independently
    assert steps["d1"]["sent"] == hand["sent:d1"] and steps["d3"]["sent"] == hand["sent:d3"]
    assert steps["d1"]["control"] + steps["d3"]["control"] == hand["step_control"]
    assert steps["d3"]["skipped"] > 0
    for v in ("a", "b"):
        assert variants[v]["entered"] == hand[f"entered:{v}"]
        assert variants[v]["sent"] == hand[f"sent:{v}"]
        assert variants[v]["converted"] == hand[f"converted:{v}"]
    assert welcome["converted"] == hand["converted"] > 20
    assert welcome["revenue"] == hand["revenue"] / 100
    assert welcome["control_converted"] == hand["control_converted"] > 5
    assert welcome["control_revenue"] == hand["control_revenue"] / 100
    assert steps["d1"]["converted"] == hand.get("converted:d1", 0)
    assert steps["d3"]["converted"] == hand.get("converted:d3", 0)
    lift = welcome["uplift"]
    treated = CUSTOMERS - hand["control"]
    assert lift["uplift"] == pytest.approx(
        hand["converted"] / treated - hand["control_converted"] / hand["control"], abs=1e-6
    )
    low, high = lift["ci95"]
    assert low < lift["uplift"] < high
    # the transactional scenario reaches the global control group too: one per purchase
    receipts = sum(e["type"] == "receipt" for e in evts)
    assert report["scenarios"]["thanks"]["steps"]["t"]["sent"] == receipts
    assert report["scenarios"]["thanks"]["control"] == 0
    assert all("variant" not in n for n in notices if n["trigger"] == "thanks")


def test_redelivered_events_change_no_figure(tmp_path: Path) -> None:
    evts = events(seed=9)
    rng = random.Random(1)
    again = [e for e in evts for _ in range(2 if rng.random() < 0.3 else 1)]  # resent
    _, once = run_replay(None, tmp_path, evts, "once")
    _, twice = run_replay(None, tmp_path, again, "twice")
    assert once == twice
    assert once["scenarios"]["welcome"]["converted"] > 0


def test_smartcomms_report_live_from_redis_is_the_replays(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(events(seed=3)))  # type: ignore[arg-type]
    config = tmp_path / "config.yaml"
    config.write_bytes(orjson.dumps(CONFIG))  # JSON is YAML
    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "cli_report"}
    cli = [sys.executable, "-m", "smartcomms.cli"]
    file_report = tmp_path / "report.json"
    replayed = subprocess.run(
        [*cli, "replay", str(path), "--config", str(config), "--redis-url", redis_url,
         "--report", str(file_report), "--until", "2026-12-01T00:00:00+00:00"],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr.decode()[-2000:]
    assert b"welcome: uplift" in replayed.stderr and b"95 % CI" in replayed.stderr
    kept = replay_prefix(Settings.model_validate({"redis": {"prefix": "cli_report"}}))
    live = subprocess.run(
        [*cli, "report", "--config", str(config), "--redis-url", redis_url],
        capture_output=True,
        env={**env, "SMARTCOMMS_REDIS__PREFIX": kept},
        timeout=60,
        check=False,
    )
    assert live.returncode == 0, live.stderr.decode()
    assert orjson.loads(live.stdout) == orjson.loads(file_report.read_bytes())
    assert orjson.loads(live.stdout)["scenarios"]["welcome"]["entered"] == CUSTOMERS
    assert b"welcome: uplift" in live.stderr and b"nothing counted" not in live.stderr
    elsewhere = subprocess.run(  # the replay's state read under the live prefix: a hint
        [*cli, "report", "--config", str(config), "--redis-url", redis_url],
        capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert elsewhere.returncode == 0
    assert b"note: nothing counted under prefix 'cli_report' yet" in elsewhere.stderr


def test_report_without_redis_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTCOMMS_")}
    done = subprocess.run(
        [sys.executable, "-m", "smartcomms.cli", "report"],
        capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and b"Traceback" not in done.stderr
