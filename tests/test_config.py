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
