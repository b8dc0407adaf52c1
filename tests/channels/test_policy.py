from __future__ import annotations

import pytest

from channels.policy import cascade
from channels.templates import bonus_earned, number, plural
from smartcomms.config import CHANNELS
from triggers.customer import CustomerState


def test_channels_follow_the_configured_order_and_need_a_contact() -> None:
    state = CustomerState(
        contacts={"email": "a@b.ru", "phone": "+7999", "push_token": "t", "viber_id": "v"}
    )
    assert cascade("transactional", state, CHANNELS) == ["push", "viber", "sms", "email"]
    assert cascade("transactional", state, ("email", "sms")) == ["email", "sms"]


def test_transactional_needs_no_consent_marketing_does() -> None:
    state = CustomerState(
        contacts={"phone": "+7999", "email": "a@b.ru"}, consents={"sms": False, "email": True}
    )
    assert cascade("transactional", state, CHANNELS) == ["sms", "email"]
    assert cascade("marketing", state, CHANNELS) == ["email"]


def test_no_contact_means_no_channel() -> None:
    assert cascade("transactional", CustomerState(consents={"sms": True}), CHANNELS) == []


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


def test_numbers_are_formatted_the_russian_way() -> None:
    assert number(1990) == "1\u00a0990"
    assert number(1234567.5) == "1\u00a0234\u00a0567,5"


def test_bonus_text() -> None:
    assert bonus_earned({"earned": 50, "spent": 0, "balance": 840}, "push") == (
        "Начислено 50 бонусов, на счёте 840."
    )
    text = bonus_earned({"earned": 21, "spent": 3, "balance": 18, "first_name": "Анна"}, "sms")
    assert text == "Анна, начислено 21 бонус, списано 3 бонуса, на счёте 18."
