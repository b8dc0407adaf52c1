"""Scenario definitions in the configuration: every key validated, errors with the path."""

from __future__ import annotations

from typing import Any

import pytest

from smartcomms.config import ConfigError, Settings, load_settings
from triggers.scenarios.library import recipe_names

STEP = {"id": "d1", "template": "welcome_d1"}


def settings_with(scenarios: dict[str, Any], **more: Any) -> Settings:
    return Settings.model_validate({"scenarios": scenarios, **more})


def test_every_key_of_the_contracts_example() -> None:
    scenario = {
        "kind": "marketing",
        "entry": {"on": "registered"},
        "restart": False,
        "reentry_days": None,
        "exit_on": ["purchase", {"on": "return", "where": {"total": {"gt": 0}}}],
        "control_percent": 0,
        "variants": [],
        "attribution_days": 7,
        "steps": [
            {
                "id": "d1",
                "after": 0,
                "at_local": None,
                "if": {},
                "channels": None,
                "template": "welcome_d1",
                "vars": {},
            },
            {
                "id": "d4",
                "after": "3d",
                "at_local": "10:00",
                "channels": ["email"],
                "template": "welcome_d4",
            },
        ],
    }
    welcome = settings_with({"welcome": scenario}).scenarios["welcome"]
    assert [s.after for s in welcome.steps] == [0, 3 * 86_400]
    assert welcome.steps[1].at_local is not None and welcome.steps[1].at_local.hour == 10
    assert [e.on for e in welcome.exit_on] == ["purchase", "return"]


@pytest.mark.parametrize("text", ["90s", "30m", "2h", "3d", 0])
def test_durations(text: object) -> None:
    scenarios = {"x": {"entry": {"on": "purchase"}, "steps": [{**STEP, "after": text}]}}
    assert settings_with(scenarios).scenarios["x"].steps[0].after in (90, 1800, 7200, 259_200, 0)


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (
            {"entry": {"on": "teleport"}, "steps": [STEP]},
            "scenarios.x.entry: unknown trigger event 'teleport'",
        ),
        ({"entry": {"on": "purchase"}, "steps": [STEP, STEP]}, "duplicate step id(s) ['d1']"),
        (
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "after": "3 days"}]},
            "scenarios.x.steps.d1.after",
        ),
        (  # an ended instance's timer at infinity
            {"entry": {"on": "purchase"}, "steps": [STEP], "attribution_days": float("inf")},
            "scenarios.x.attribution_days",
        ),
        (
            {"entry": {"on": "purchase"}, "steps": [STEP], "reentry_days": 36501},
            "scenarios.x.reentry_days",
        ),
        (  # due past the calendar's end: every customer entering would fail
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "after": "2920000d"}]},
            "scenarios.x.steps.d1.after: '2920000d' is longer than 36500d",
        ),
        (
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "at_local": "25:00"}]},
            "scenarios.x.steps.d1.at_local",
        ),
        (
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "if": {"purchases_since": 0}}]},
            "steps.d1.if.purchases_since: unknown condition",
        ),
        (
            {"entry": {"on": "purchase", "where": {"store": "S1"}}, "steps": [STEP]},
            "where.store: unknown condition",
        ),
        ({"entry": {"on": "purchase"}, "steps": []}, "scenarios.x.steps"),
        (
            {"entry": {"on": "purchase"}, "exit_on": ["teleport"], "steps": [STEP]},
            "scenarios.x.exit_on.0",
        ),
        (
            {"entry": {"on": "purchase", "days_before": 3}, "steps": [STEP]},
            "days_before is for entry: {on: birthday}",
        ),
        (
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "channels": ["pigeon"]}]},
            "scenarios.x.steps.d1.channels.0",
        ),
        (
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "template": {"a": "t"}}]},
            "a map by variant needs variants",
        ),
        ({"entry": {"on": "purchase"}, "steps": [STEP], "colour": "red"}, "scenarios.x.colour"),
        (  # every event reaching the step would fail to encode its notice
            {"entry": {"on": "purchase"}, "steps": [{**STEP, "vars": {"n": 10**27}}]},
            "scenarios.x.steps.d1.vars: not JSON a notice can carry",
        ),
        (
            {
                "entry": {"on": "purchase"},
                "steps": [STEP],
                "variants": [{"id": "a", "weight": 1e999}],
            },
            "scenarios.x.variants.a.weight: Input should be a finite number",
        ),
        (  # two of these add up to infinity: every customer would draw the last one
            {
                "entry": {"on": "purchase"},
                "steps": [STEP],
                "variants": [{"id": "a", "weight": 1e308}, {"id": "b", "weight": 1e308}],
            },
            "scenarios.x.variants.a.weight: Input should be less than or equal to 1000000",
        ),
        (  # JSON has no NaN: the notice's var would be null and its text "nan"
            {
                "entry": {"on": "purchase"},
                "steps": [{**STEP, "vars": {"o": [{"p": float("nan")}]}}],
            },
            "scenarios.x.steps.d1.vars: not JSON a notice can carry: NaN or infinity",
        ),
        ({"recipe": "welcome_series_2"}, "scenarios.x.recipe: unknown recipe"),
        ({"recipe": ["welcome_series"]}, "scenarios.x.recipe: unknown recipe"),
        (  # decided before d2 is sent: it could never hold
            {
                "entry": {"on": "purchase"},
                "steps": [{**STEP, "if": {"opened": "d2"}}, {**STEP, "id": "d2"}],
            },
            "scenarios.x: steps.d1.if.opened: no step ['d2']",
        ),
        (  # a typo can never hold: the scenario would never enter
            {"entry": {"on": "segment_changed", "where": {"to": "hibernatin"}}, "steps": [STEP]},
            "scenarios.x.entry: where.to: 'hibernatin' is none of [",
        ),
        (  # a step of a recipe, by the id the override and the recipe share
            {"recipe": "welcome_series", "steps": [{"id": "d4", "after": "3x"}]},
            "scenarios.x.steps.d4.after: '3x' is not a duration",
        ),
    ],
)
def test_bad_definitions_name_scenario_step_and_field(scenario: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, overrides={"scenarios": {"x": scenario}})
    assert message in str(err.value)


def test_a_bad_scenario_id_is_refused() -> None:
    with pytest.raises(Exception, match=r"scenarios\.Welcome"):
        settings_with({"Welcome": {"entry": {"on": "purchase"}, "steps": [STEP]}})


def test_recipes_load_and_take_overrides_merged_by_step_id(tmp_path: Any) -> None:
    assert set(recipe_names()) >= {
        "welcome_series",
        "retention",
        "browse_abandonment",
        "cross_sell",
        "birthday",
        "points_expiry",
        "tier_up",
    }
    path = tmp_path / "c.yaml"
    path.write_text(
        "scenarios:\n"
        "  welcome: {recipe: welcome_series, steps: [{id: d4, after: 2d},\n"
        "            {id: d30, after: 30d, template: welcome_d1}]}\n"
        "  winback2: {recipe: retention, kind: marketing}\n"
    )
    settings = load_settings(path, env={})
    welcome = settings.scenarios["welcome"]
    assert [s.id for s in welcome.steps] == ["d1", "d4", "d7", "d14", "d30"]
    assert welcome.steps[1].after == 2 * 86_400 and welcome.steps[1].template == "welcome_d4"
    assert welcome.reentry_days is None
    assert settings.scenarios["winback2"].restart is True


def test_builtins_are_scenarios_that_a_scenario_of_the_same_id_overrides(tmp_path: Any) -> None:
    settings = load_settings(env={})
    cart = settings.scenarios["abandoned_cart"]
    assert cart.entry.on == "cart_changed" and cart.restart and cart.steps[0].after == 3600
    path = tmp_path / "c.yaml"
    path.write_text(
        "triggers: {win_back: {after_days: 45}}\n"
        "scenarios:\n  abandoned_cart: {steps: [{id: abandoned_cart, channels: [push]}]}\n"
        "  bonus_earned: {enabled: false}\n"
    )
    settings = load_settings(path, env={})
    assert settings.scenarios["win_back"].steps[0].after == 45 * 86_400
    assert settings.scenarios["abandoned_cart"].steps[0].channels == ["push"]
    assert settings.scenarios["abandoned_cart"].steps[0].after == 3600  # the rest kept
    assert settings.scenarios["bonus_earned"].enabled is False


def test_caps_may_name_any_scenario(tmp_path: Any) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "scenarios: {welcome: {recipe: welcome_series}}\n"
        "caps: {per_trigger: {welcome: {per_week: 2}}}\n"
    )
    assert load_settings(path, env={}).caps.per_trigger["welcome"].per_week == 2
    path.write_text("caps: {per_trigger: {welcome: {per_week: 2}}}\n")
    with pytest.raises(ConfigError, match=r"caps.per_trigger: unknown scenario\(s\) \['welcome'\]"):
        load_settings(path, env={})
