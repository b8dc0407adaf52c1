from __future__ import annotations

from channels.policy import cascade
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
