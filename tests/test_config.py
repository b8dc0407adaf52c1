from __future__ import annotations

from pathlib import Path

import pytest

from smartcomms.config import ConfigError, load_settings


def test_defaults_are_the_contract_defaults() -> None:
    settings = load_settings(env={})
    assert settings.channels.order == (
        "push",
        "web_push",
        "telegram",
        "viber",
        "whatsapp",
        "sms",
        "email",
    )
    assert settings.engine.default_timezone == "Europe/Moscow"
    assert settings.kafka.topics.dead_letters == "dead-letters"
    assert settings.bonus.accrual_percent == 5


def test_yaml_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: {brokers: 'k:9092'}\nchannels: {order: [sms, email]}\n")
    settings = load_settings(
        path, env={"SMARTCOMMS_KAFKA__BROKERS": "other:9092", "SMARTCOMMS_ENGINE__SHARDS": "8"}
    )
    assert settings.kafka.brokers == "other:9092"
    assert settings.engine.shards == 8
    assert settings.channels.order == ("sms", "email")


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "channels: {order: [sms, pigeon]}\nengine: {shards: 0, default_timezone: Mars/Base}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    text = str(err.value)
    assert "channels.order" in text and "pigeon" in text
    assert "engine.shards" in text
    assert "engine.default_timezone" in text


def test_unknown_key_and_broken_yaml_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: {brokerz: x}\n")
    with pytest.raises(ConfigError, match=r"kafka\.brokerz"):
        load_settings(path, env={})
    path.write_text("kafka: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path, env={})


def test_a_key_given_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    """YAML itself keeps the last: a second scenario of one id would replace the first."""
    path = tmp_path / "c.yaml"
    step = "steps: [{id: a, template: win_back}]"
    path.write_text(
        f"scenarios:\n  w: {{entry: {{on: purchase}}, {step}}}\n"
        f"  w: {{entry: {{on: login}}, {step}}}\n"
    )
    with pytest.raises(ConfigError, match=r"duplicate key 'w'.*line 3"):
        load_settings(path, env={})
    path.write_text("engine: {shards: 4}\nredis: {prefix: a}\n")  # the same key apart: fine
    assert load_settings(path, env={}).engine.shards == 4


def test_quiet_hours_accept_unquoted_yaml_times(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("quiet_hours: {start: 22:30, end: '08:00'}\n")
    quiet = load_settings(path, env={}).quiet_hours
    assert (quiet.start.hour, quiet.start.minute, quiet.end.hour) == (22, 30, 8)


def test_timed_trigger_defaults_and_cap_errors(tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert settings.triggers.abandoned_cart.delay_minutes == 60
    assert settings.triggers.win_back.after_days == 30
    assert (settings.caps.marketing.per_day, settings.caps.marketing.per_week) == (2, 5)
    assert settings.caps.per_trigger["abandoned_cart"].per_day == 1
    path = tmp_path / "c.yaml"
    path.write_text(
        "caps: {per_channel: {pigeon: {per_day: 1}}, marketing: {per_day: -1}}\n"
        "triggers: {abandoned_cart: {delay_minutes: 0}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    text = str(err.value)
    assert "caps.per_channel" in text and "pigeon" in text
    assert "caps.marketing.per_day" in text
    assert "triggers.abandoned_cart.delay_minutes" in text


TIERS = (
    "loyalty: {tiers: [{name: base, from_spend: 0, accrual_percent: 3},"
    " {name: gold, from_spend: 1000, accrual_percent: 5}]}\n"
)


@pytest.mark.parametrize(
    ("yaml_text", "field", "reason"),
    [
        ("quiet_hours: {start: 24:00}", "quiet_hours.start", "24:00 is not a time of day"),
        ("quiet_hours: {end: 25:00}", "quiet_hours.end", "25:00 is not a time of day"),
        ("quiet_hours: {start: '7:5'}", "quiet_hours.start", "write HH:MM"),
        ("quiet_hours: {start: 21:00, end: 21:00}", "quiet_hours", "enabled: false"),
        ("channels: {order: []}", "channels.order", "at least one channel"),
        ("caps: {per_trigger: {abandoned_kart: {per_day: 1}}}", "caps.per_trigger", "kart"),
        (
            "gateways: {sms: {kind: sms, base_url: 'file:///etc/passwd'}}",
            "gateways.sms.sms.base_url",
            "not an http:// or https:// URL",
        ),
        ("redis: {url: notaurl}", "redis.url", "not a Redis URL"),
        ("redis: {url: 'redis://localhost:abc/0'}", "redis.url", "port of a Redis URL"),
        (
            "gateways: {mail: {kind: smtp, host: h, port: 99999, sender: a@b.ru}}",
            "gateways.mail.smtp.port",
            "65535",
        ),
        ("engine: {event_time: {max_ahead: 1 day}}", "engine.event_time.max_ahead", "duration"),
        (
            "engine: {event_time: {earliest: '2100-01-01T00:00:00+00:00'}}",
            "engine.event_time",
            "earliest must lie before latest",
        ),
        (  # a win-back after an event near the calendar's end falls past year 9999
            "engine: {event_time: {latest: '9999-12-01T00:00:00+00:00'}}",
            "engine.event_time",
            "latest lies after 9000-01-01",
        ),
        # no setting is infinite or NaN (an OverflowError, or a panic on Redis, at run time)
        ("triggers: {win_back: {after_days: .inf}}", "triggers.win_back.after_days", "finite"),
        ("redis: {retry_for_s: .nan}", "redis.retry_for_s", "finite"),
        (
            "loyalty: {tiers: [{name: a, from_spend: .inf, accrual_percent: 1}]}",
            "loyalty.tiers.0.from_spend",
            "finite",
        ),
        ("engine: {anonymous_ttl_days: 1e12}", "engine.anonymous_ttl_days", "36500"),
        ("engine: {timers_per_tick: 9223372036854775808}", "engine.timers_per_tick", "1000000"),
        ("dispatch: {timeout_minutes: {push: -5}}", "dispatch.timeout_minutes.push", "greater"),
        ("dispatch: {ending: {push: [bogus]}}", "dispatch.ending.push.0", "'sent'"),
        # a tier no customer can hold: a condition on it never holds (a typo)
        (
            TIERS + "scenarios: {up: {entry: {on: tier_changed, where: {to: {in: [gold, golld]}}},"
            " steps: [{id: a, template: win_back}]}}",
            "scenarios.up.entry.where.to",
            "'golld' is none of ['base', 'gold']",
        ),
        (
            TIERS + "scenarios: {up: {entry: {on: purchase}, exit_on: [{on: tier_changed,"
            " where: {from: silver}}], steps: [{id: a, template: win_back}]}}",
            "scenarios.up.exit_on.0.where.from",
            "'silver' is none of",
        ),
        (
            TIERS + "scenarios: {up: {entry: {on: purchase}, steps: [{id: a, template: win_back,"
            " if: {any: [{not: {tier: Gold}}, {balance: 1}]}}]}}",
            "scenarios.up.steps.a.if.tier",
            "'Gold' is none of",
        ),
    ],
)
def test_settings_that_would_lie_are_refused_with_the_field(
    tmp_path: Path, yaml_text: str, field: str, reason: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    text = str(err.value)
    assert f"{field}: " in text and reason in text and "\n" not in text


def test_event_time_window_defaults_and_durations(tmp_path: Path) -> None:
    window = load_settings(env={}).engine.event_time
    assert (window.earliest.year, window.latest.year, window.max_ahead) == (2000, 2100, 86_400)
    assert window.replay_max_jump == 180 * 86_400
    path = tmp_path / "c.yaml"
    path.write_text("engine: {event_time: {max_ahead: 90m, replay_max_jump: 30d}}\n")
    window = load_settings(path, env={}).engine.event_time
    assert (window.max_ahead, window.replay_max_jump) == (5400, 30 * 86_400)


def test_files_and_variables_that_cannot_be_read_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("log: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nests too deeply to read"):
        load_settings(path, env={})
    path.write_bytes(b"log: {level: \xff\xfe}\n")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_settings(path, env={})
    with pytest.raises(ConfigError, match="SMARTCOMMS_CHANNELS__ORDER is not valid YAML") as err:
        load_settings(env={"SMARTCOMMS_CHANNELS__ORDER": "[sms"})
    assert "\n" not in str(err.value)
