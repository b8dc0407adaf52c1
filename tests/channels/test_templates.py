from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from channels.templates import SAMPLE_VARS, TemplateConfigError, TemplateSet, number, plural
from smartcomms.config import ConfigError, load_settings

BONUS = {
    "first_name": None,
    "earned": 50,
    "spent": 0,
    "balance": 840,
    "receipt_id": "R1",
    "store_id": "S1",
    "total": 1000,
    "currency": "RUB",
}


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet.with_overrides({})


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "бонус"),
        (21, "бонус"),
        (2, "бонуса"),
        (4, "бонуса"),
        (5, "бонусов"),
        (11, "бонусов"),
        (12, "бонусов"),
        (111, "бонусов"),
        (0, "бонусов"),
        (1.5, "бонуса"),
    ],
)
def test_russian_plural(n: float, word: str) -> None:
    assert plural(n, "бонус", "бонуса", "бонусов") == word


def test_numbers_and_money_are_formatted_the_russian_way(templates: TemplateSet) -> None:
    assert number(1990) == "1\u00a0990"
    assert number(1234567.5) == "1\u00a0234\u00a0567,5"
    text = templates.render("abandoned_cart", "push", SAMPLE_VARS["abandoned_cart"]).text
    assert "2\u00a0280,00\u00a0₽" in text


def test_bonus_text_with_and_without_a_name(templates: TemplateSet) -> None:
    assert templates.render("bonus_earned", "push", BONUS).text == (
        "Начислено 50 бонусов, на счёте 840."
    )
    named = {**BONUS, "first_name": "Анна", "earned": 21, "spent": 3, "balance": 18}
    assert templates.render("bonus_earned", "sms", named).text == (
        "Анна, начислено 21 бонус, списано 3 бонуса, на счёте 18."
    )


def test_each_channel_gets_its_own_message(templates: TemplateSet) -> None:
    cart = SAMPLE_VARS["abandoned_cart"]
    sms = templates.render("abandoned_cart", "sms", cart)
    push = templates.render("abandoned_cart", "push", cart)
    email = templates.render("abandoned_cart", "email", cart)
    viber = templates.render("abandoned_cart", "viber", cart)  # no parts of its own: default
    assert len(sms.text) <= 70 < len(push.text)  # one Cyrillic SMS segment
    assert push.subject == "Вы забыли корзину" and sms.subject is None
    assert email.subject and email.html and "<li>kettle × 1" in email.html
    assert viber.text == push.text and viber.subject is None


def test_html_escapes_what_customers_type(templates: TemplateSet) -> None:
    vars = {**SAMPLE_VARS["win_back"], "first_name": "<script>x</script>"}
    email = templates.render("win_back", "email", vars)
    assert "<script>" not in (email.html or "") and "&lt;script&gt;" in (email.html or "")
    assert email.text.startswith("<script>x</script>,")  # plain text stays as typed


def test_missing_variable_fails_at_load_not_at_send() -> None:
    overrides = {"win_back": {"sms": {"text": "Привет, {{ nickname }}"}}}
    with pytest.raises(TemplateConfigError, match=r"win_back\.sms.*nickname"):
        TemplateSet.checked(overrides, {"win_back": "win_back"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"promo": {"sms": {"text": "x"}}}, "no 'default'"),
        ({"win_back": {"sms": {"subject": "x"}}}, "no 'text'"),
        ({"win_back": {"sms": {"text": "x", "footer": "y"}}}, "unknown part"),
        (
            {"promo": {"default": {"text": "x"}, "pigeon": {"text": "y"}}},
            r"no channel \['pigeon'\]",
        ),
        ({"win_back": {"sms": {"text": "{% if %}"}}}, "win_back.sms"),
    ],
)
def test_broken_templates_are_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(TemplateConfigError, match=message):
        TemplateSet.checked(overrides, {})


def test_the_sandbox_keeps_templates_away_from_python() -> None:
    overrides = {"win_back": {"sms": {"text": "{{ offer.__class__.__mro__ }}"}}}
    with pytest.raises(TemplateConfigError):
        TemplateSet.checked(overrides, {"win_back": "win_back"})


def test_a_trigger_naming_an_unknown_template_fails_at_load(tmp_path: Path) -> None:
    from channels.policy import Policy

    path = tmp_path / "c.yaml"
    path.write_text("triggers: {win_back: {template: comeback}}\n")
    with pytest.raises(ConfigError, match="comeback"):
        Policy.from_settings(load_settings(path, env={}))


def test_preview_command(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "templates:\n  win_back:\n    sms: {text: 'Скидка для {{ first_name }}: {{ offer }}'}\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "smartcomms.cli",
        "templates",
        "preview",
        "win_back",
        "--channel",
        "sms",
        "--config",
        str(config),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Скидка для Анна: Дарим 300 бонусов" in result.stdout
    bad = config.read_text().replace("first_name", "nickname")
    config.write_text(bad)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "nickname" in result.stderr


def test_a_template_renders_the_same_whether_it_reads_globals_or_not() -> None:
    own = {"default": {"text": "{% set n = earned * 2 %}{{ n }} {{ first_name or 'гость' }}"}}
    loops = {"default": {"text": "{% for i in range(earned) %}{{ i }}{% endfor %}"}}
    templates = TemplateSet.with_overrides({"own": own, "loops": loops})
    vars_ = {"earned": 3, "first_name": None}
    assert templates.text("own", "sms", vars_) == "6 гость"
    assert templates.text("loops", "sms", vars_) == "012"  # `range` is a global
    assert vars_ == {"earned": 3, "first_name": None}  # a template's `set` stays its own
    with pytest.raises(Exception, match="undefined"):
        templates.text("own", "sms", {"first_name": None})
