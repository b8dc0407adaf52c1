"""`smartcomms scenarios check|show`, and `trace --customer` for scenario steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from smartcomms.config import load_settings
from tests.events import customer, receipt

WELCOME = "scenarios:\n  welcome: {recipe: welcome_series, exit_on: [return]}\n"


def smartcomms(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcomms.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_check_lists_the_scenarios_and_fails_in_one_line(tmp_path: Path) -> None:
    ok = smartcomms("scenarios", "check")
    assert (
        ok.returncode == 0 and "3 scenarios ok: abandoned_cart, bonus_earned, win_back" in ok.stdout
    )
    config = tmp_path / "c.yaml"
    config.write_text(WELCOME + "  vip: {entry: {on: purchase}, steps: [{id: a, template: x}]}\n")
    bad = smartcomms("scenarios", "check", "--config", str(config))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        "smartcomms scenarios: scenarios.vip.steps.a.template: no template named 'x'"
    )
    config.write_text(
        WELCOME + "  vip: {entry: {on: purchase}, steps: [{id: a, template: welcome_d7}]}\n"
    )
    missing_var = smartcomms("scenarios", "check", "--config", str(config))
    assert missing_var.returncode == 2
    assert "scenarios.vip.steps.a.template: template welcome_d7" in missing_var.stderr
    assert "'offer' is undefined" in missing_var.stderr  # a var the scenario does not provide


def test_show_prints_a_scenario_as_the_engine_runs_it(tmp_path: Path) -> None:
    builtin = yaml.safe_load(smartcomms("scenarios", "show", "abandoned_cart").stdout)
    cart = builtin["abandoned_cart"]
    assert cart["entry"]["on"] == "cart_changed" and cart["restart"] is True
    assert [e["on"] for e in cart["exit_on"]] == ["purchase", "cart_emptied"]
    assert cart["steps"][0]["after"] == "1h" and cart["steps"][0]["id"] == "abandoned_cart"
    config = tmp_path / "c.yaml"
    config.write_text(WELCOME)
    shown = smartcomms("scenarios", "show", "welcome", "--config", str(config))
    welcome = yaml.safe_load(shown.stdout)["welcome"]
    assert [s["id"] for s in welcome["steps"]] == ["d1", "d4", "d7", "d14"]
    assert welcome["steps"][1] | {"if": None} == {
        "id": "d4",
        "after": "3d",
        "at_local": None,
        "if": None,
        "channels": None,
        "template": "welcome_d4",
        "vars": {"discount": 10},
    }
    assert [e["on"] for e in welcome["exit_on"]] == ["return"]  # the override
    # what show prints is a definition the configuration takes back
    round_trip = tmp_path / "again.yaml"
    round_trip.write_text(yaml.safe_dump({"scenarios": {"again": welcome}}, allow_unicode=True))
    assert (
        load_settings(round_trip, env={}).scenarios["again"]
        == load_settings(config, env={}).scenarios["welcome"]
    )
    nope = smartcomms("scenarios", "show", "nope")
    assert nope.returncode == 2 and "no scenario 'nope'" in nope.stderr


def test_trace_shows_skipped_and_exited_steps_of_a_replay_on_redis(
    tmp_path: Path, redis_url: str
) -> None:
    """`replay --redis-url` keeps the decision log as live does: the state it leaves is
    inspected with `trace --customer` (and the console)."""
    config = tmp_path / "c.yaml"
    config.write_text(WELCOME)
    events = [
        customer(
            "C1",
            registered_at="2026-11-02T10:00:00+03:00",
            contacts={"email": "a@b.ru"},
            consents={"email": True},
            ts="2026-11-02T10:00:00+03:00",
        ),
        receipt("r1", "C1", 100.0, ts="2026-11-03T10:00:00+03:00"),  # d4 skipped: a purchase
        receipt("r2", "C1", 100.0, ts="2026-11-06T10:00:00+03:00", type="return"),  # exit
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    env = {"SMARTCOMMS_REDIS__PREFIX": "sc"}
    replayed = smartcomms(
        "replay", str(path), "--config", str(config), "--redis-url", redis_url,
        "--until", "2026-11-20T00:00:00+03:00", env=env,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    env = {"SMARTCOMMS_REDIS__PREFIX": "sc-replay"}  # where replay keeps its state
    result = smartcomms("trace", "--customer", "C1", "--redis-url", redis_url, env=env)
    assert result.returncode == 0, result.stderr
    welcome = [orjson.loads(line) for line in result.stdout.splitlines()]
    welcome = [d for d in welcome if d["trigger"] == "welcome"]
    assert [(d["outcome"], d.get("step"), d.get("reason")) for d in welcome] == [
        ("exited", None, "exit_on"),
        ("skipped", "d4", "if"),
        ("emitted", "d1", None),
    ]


def test_check_warns_of_a_scenario_whose_programme_is_not_configured(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("scenarios:\n  tier_up: {recipe: tier_up}\n  pts: {recipe: points_expiry}\n")
    checked = smartcomms("scenarios", "check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines() == [
        "warning: scenarios.tier_up: uses 'tier_changed', but loyalty.tiers is not configured",
        "warning: scenarios.pts: uses 'points_expiring', but loyalty.expiry_days is not configured",
    ]
    config.write_text(
        "loyalty: {tiers: [{name: a, from_spend: 100, accrual_percent: 1},"
        " {name: b, from_spend: 50, accrual_percent: 2}]}\n"
        "segments: {rfm: {frequency: [1, 2, 2, 3]}}\n"
    )
    bad = smartcomms("scenarios", "check", "--config", str(config))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "loyalty.tiers" in bad.stderr and "from_spend must ascend" in bad.stderr
    assert "segments.rfm" in bad.stderr and "four ascending bounds" in bad.stderr
