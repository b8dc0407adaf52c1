"""Segments and loyalty end to end through replay: tier_changed up at the receipt that
crosses and down at the exact time old purchases leave the window, segment_changed at the
exact time recency drops, points_expiring before an expiry and the balance after it, the
accrual by tier and category; in memory, on Redis and on a Redis Cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.events import customer, receipt
from tests.scenario import click, of, run

SMARTCOMMS = [sys.executable, "-m", "smartcomms.cli"]
T0 = datetime.fromisoformat("2026-01-10T12:00:00+03:00")
LOYALTY = {
    "tiers": [
        {"name": "base", "from_spend": 0, "accrual_percent": 3},
        {"name": "silver", "from_spend": 20000, "accrual_percent": 5},
    ],
    "category_multipliers": {"электроника": 2},
    "expiry_days": 30,
    "expiry_warning_days": 7,
}
TEMPLATES = {
    "moved": {"default": {"text": "{{ from }} -> {{ to }}"}},
}


def moved(on: str, where: dict[str, Any], kind: str = "transactional") -> dict[str, Any]:
    return {
        "kind": kind,
        "entry": {"on": on, "where": where},
        "reentry_days": 0,
        "steps": [{"id": "s1", "template": "moved"}],
    }


CONFIG = {
    "segments": {"rfm": {}},
    "loyalty": LOYALTY,
    "templates": TEMPLATES,
    "scenarios": {
        "abandoned_cart": {"enabled": False},
        "win_back": {"enabled": False},
        "tier_up": {"recipe": "tier_up"},
        "points_expiry": {"recipe": "points_expiry"},
        "tier_down": moved("tier_changed", {"direction": "down"}),
        "cooling": moved("segment_changed", {"from": "new"}),
    },
}


def ts(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value)


def line(amount: float, category: str = "молочка") -> dict[str, Any]:
    return {"sku": category[:3], "category": category, "qty": 1, "price": amount, "amount": amount}


ANNA = customer(
    "C1",
    ts=ts(-1),
    first_name="Анна",
    contacts={"phone": "+79990000001"},
    consents={"sms": True},
)


@pytest.fixture(params=["memory", "redis", "cluster"])
def url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    if request.param == "cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    return str(request.getfixturevalue("redis_url"))


def test_tiers_accrual_and_expiry_end_to_end(url: str | None, tmp_path: Path) -> None:
    events = [
        ANNA,
        receipt("r1", "C1", 15000, ts=ts(0), lines=[line(10000), line(5000)]),
        # crosses 20000: earns at base (the tier before it), 2x for electronics
        receipt("r2", "C1", 6000, ts=ts(1), lines=[line(1000, "электроника"), line(5000)]),
        receipt("r3", "C1", 1000, ts=ts(2), lines=[]),  # silver, no lines: 5 % of the total
        receipt("r4", "C1", 100, ts=ts(2.5), type="return", lines=[line(100)]),
        receipt("r5", "C1", 1000, ts=ts(40), lines=[line(1000)]),
    ]
    notices, _stats = run(url, tmp_path, events, ts(400), CONFIG)
    bonuses = [
        (n["caused_by"], n["vars"]["earned"], n["vars"]["balance"])
        for n in of(notices, "bonus_earned")
    ]
    # r1 450 (3 %); r2 (2000 + 5000) * 3 % = 210; r3 5 %: 50; r4 returns 5 % of 100: 5;
    # r1's 450 expired at day 30, r2's 210 at day 31, r3's 50 at day 32 (r4 took 5 of it)
    assert bonuses == [("r1", 450, 450), ("r2", 210, 660), ("r3", 50, 710), ("r5", 50, 50)]
    [up] = of(notices, "tier_up")
    assert (up["caused_by"], up["vars"]["to"], utc(up["due_ts"])) == ("r2", "silver", utc(ts(1)))
    [down] = of(notices, "tier_down")
    # r1 leaves the 365-day window at exactly its time + 365 days: 7000 + 1000 - 100 left
    assert utc(down["due_ts"]) == T0 + timedelta(days=365)
    assert (down["vars"]["from"], down["vars"]["to"]) == ("silver", "base")
    expiring = of(notices, "points_expiry")
    assert [
        (utc(n["due_ts"]), n["vars"]["points"], utc(n["vars"]["expires_at"])) for n in expiring
    ][:3] == [
        (T0 + timedelta(days=23), 450, T0 + timedelta(days=30)),
        (T0 + timedelta(days=24), 210, T0 + timedelta(days=31)),
        (T0 + timedelta(days=25), 45, T0 + timedelta(days=32)),
    ]
    assert "сгорят" in expiring[0]["text"]


def test_the_segment_changes_at_the_exact_moment_recency_drops(
    url: str | None, tmp_path: Path
) -> None:
    events = [ANNA, receipt("r1", "C1", 1000, ts=ts(0), lines=[])]
    notices, _stats = run(url, tmp_path, events, ts(20), CONFIG)
    [cooling] = of(notices, "cooling")
    assert utc(cooling["due_ts"]) == T0 + timedelta(days=14)  # R 5 -> 4: new -> promising
    assert cooling["text"] == "new -> promising"
    assert cooling["caused_by"].startswith("segment_changed:")
    again, _stats = run(url, tmp_path, events, ts(20), CONFIG)
    assert [n["notice_id"] for n in again] == [n["notice_id"] for n in notices]


def test_an_event_at_the_very_moment_of_a_change_sees_the_new_standing(
    url: str | None, tmp_path: Path
) -> None:
    """Windows are (now - N days, now]: at exactly expiry and exactly 365 days after the
    purchase, an event's step already sees the balance dropped and the tier fallen."""
    probe = {
        "kind": "transactional",
        "entry": {"on": "login"},
        "reentry_days": 0,
        "steps": [{"id": "s1", "template": "standing"}],
    }
    config = {
        **CONFIG,
        "templates": {**TEMPLATES, "standing": {"default": {"text": "{{ tier }} {{ balance }}"}}},
        "scenarios": {**CONFIG["scenarios"], "probe": probe},
    }
    events = [
        ANNA,
        receipt("r1", "C1", 20000, ts=ts(0), lines=[]),  # silver; 600 that expire at day 30
        click("login", ts(29)),
        click("login", ts(30)),
        click("login", ts(365)),
    ]
    notices, _stats = run(url, tmp_path, events, ts(400), config)
    assert [n["text"] for n in of(notices, "probe")] == ["silver 600", "silver 0", "base 0"]


def test_profile_shows_the_standing(redis_url: str, tmp_path: Path) -> None:
    """`smartcomms profile` after a replay on Redis: R/F/M, segment, tier, lots with their
    expiry and the next change."""
    events = [ANNA, receipt("r1", "C1", 21000, ts=ts(0), lines=[line(21000)])]
    config = tmp_path / "config.yaml"
    config.write_text(orjson.dumps({**CONFIG, "redis": {"prefix": "prof"}}).decode())
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    env = {**os.environ, "SMARTCOMMS_REDIS__URL": redis_url}
    common = ["--config", str(config), "--redis-url", redis_url]
    replayed = subprocess.run(
        [*SMARTCOMMS, "replay", str(path), *common, "--out", str(tmp_path / "out.jsonl")],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr
    shown = subprocess.run(
        [*SMARTCOMMS, "profile", "C1", *common],
        env={**env, "SMARTCOMMS_REDIS__PREFIX": "prof-replay"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    view = orjson.loads(shown.stdout)
    assert (view["rfm"], view["r"], view["f"], view["m"]) == ("513", 5, 1, 3)
    assert (view["segment"], view["tier"]) == ("new", "silver")
    assert view["lots"] == [
        {
            "earned_at": "2026-01-10T09:00:00.000+00:00",
            "points": 630,  # 3 % of 21000: the tier before the receipt was base
            "expires_at": "2026-02-09T09:00:00.000+00:00",
        }
    ]
    assert view["next_change"] == "2026-01-24T09:00:00.000+00:00"  # R 5 -> 4 at 14 days
    # read at the replay's end (its last event), not today: the receipt is in every window
    assert view["purchases"]["30d"] == {"count": 1, "spend": 21000.0}


def test_quantile_bounds_rescore_a_customer_at_its_next_event(
    url: str | None, tmp_path: Path
) -> None:
    """Ten customers buy 1..10 times on day 0. On day 1 the bounds are their quintiles
    (F: 3, 5, 7, 9; R: everyone bought in the same hour); C9 is rescored at its next
    event: champions under the fixed bounds, cant_lose under the quintiles."""
    profiles = [
        customer(f"C{k}", ts=ts(-1), contacts={"phone": f"+7999000000{k}"}) for k in range(10)
    ]
    receipts = [
        receipt(f"r{k}-{n}", f"C{k}", 100, ts=ts(n / 1440), lines=[])
        for k in range(10)
        for n in range(k + 1)
    ]
    update = customer("C9", ts=ts(1), first_name="Девятый")
    config = {
        **CONFIG,
        "segments": {"rfm": {"quantiles": True}},
        "scenarios": {**CONFIG["scenarios"], "lost": moved("segment_changed", {"to": "cant_lose"})},
    }
    notices, _stats = run(url, tmp_path, [*profiles, *receipts, update], ts(1.01), config)
    lost = of(notices, "lost")
    assert [(n["customer_id"], n["text"], n["caused_by"]) for n in lost] == [
        ("C9", "champions -> cant_lose", update["event_id"])
    ]
    fixed, _stats = run(
        url,
        tmp_path,
        [*profiles, *receipts, update],
        ts(1.01),
        CONFIG | {"scenarios": config["scenarios"]},
    )
    assert of(fixed, "lost") == []  # fixed bounds: still a champion


def test_an_expiry_warning_held_by_quiet_hours_keeps_its_points(
    url: str | None, tmp_path: Path
) -> None:
    """A warning due at 23:00 Moscow is held to 09:00 and still says how many points
    expire when (the instance keeps its entry's vars for the release)."""
    late = T0 + timedelta(hours=11)  # 23:00 Moscow
    events = [ANNA, receipt("r1", "C1", 1000, ts=late.isoformat(), lines=[])]
    notices, _stats = run(url, tmp_path, events, ts(40), CONFIG)
    [reminder] = of(notices, "points_expiry")
    assert utc(reminder["due_ts"]) == T0 + timedelta(days=24, hours=-3)  # 09:00 next day
    assert reminder["vars"]["points"] == 30
    assert utc(reminder["vars"]["expires_at"]) == late + timedelta(days=30)


def test_two_accruals_of_a_day_expire_each_at_its_own_time(url: str | None, tmp_path: Path) -> None:
    events = [
        ANNA,
        receipt("r1", "C1", 1000, ts=ts(0), lines=[]),  # 30 points, 09:00 UTC
        receipt("r2", "C1", 2000, ts=ts(0.5), lines=[]),  # 60 points, 21:00 UTC, the same day
        receipt("r3", "C1", 100, ts=ts(30.25), lines=[]),  # between the two expiries
    ]
    notices, _stats = run(url, tmp_path, events, ts(31), CONFIG)
    balances = [(n["caused_by"], n["vars"]["balance"]) for n in of(notices, "bonus_earned")]
    assert balances == [("r1", 30), ("r2", 90), ("r3", 63)]  # r1's 30 gone at day 30
    expiring = [(n["vars"]["points"], utc(n["due_ts"])) for n in of(notices, "points_expiry")]
    assert expiring == [(30, T0 + timedelta(days=23)), (60, T0 + timedelta(days=24, hours=-3))]


def test_an_expiry_reminder_names_the_customers_own_date(url: str | None, tmp_path: Path) -> None:
    """The lot expires at 03:30 UTC on 9 February: still the 8th in New York."""
    earned = datetime.fromisoformat("2026-01-10T03:30:00+00:00")
    new_yorker = {**ANNA, "timezone": "America/New_York"}
    events = [new_yorker, receipt("r1", "C1", 1000, ts=earned.isoformat(), lines=[])]
    notices, _stats = run(url, tmp_path, events, ts(40), CONFIG)
    [reminder] = of(notices, "points_expiry")
    assert utc(reminder["vars"]["expires_at"]) == earned + timedelta(days=30)
    assert reminder["vars"]["expires_on"] == "2026-02-08"
    assert reminder["text"] == "30 бонусов сгорят 2026-02-08"  # the SMS text
