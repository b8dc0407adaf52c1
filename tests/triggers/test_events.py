from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.events import customer, receipt
from triggers.customer import CustomerState, apply_customer_update
from triggers.dedup import forget_before
from triggers.events import (
    Click,
    CustomerUpdate,
    Receipt,
    Rejection,
    epoch_of,
    parse_event,
    subject_of,
)


def parse(event: dict) -> object:
    return parse_event(orjson.dumps(event))


def test_valid_receipt_with_extra_fields_is_parsed() -> None:
    event = receipt("e1", "C1", 100.5, loyalty_level="gold")
    parsed = parse(event)
    assert isinstance(parsed, Receipt)
    assert parsed.total == 100.5
    assert parsed.channel == "pos" and parsed.currency == "RUB"
    assert subject_of(parsed) == "c:C1"


def test_anonymous_click_belongs_to_its_device() -> None:
    parsed = parse(
        {
            "event_id": "k1",
            "type": "add_to_cart",
            "ts": "2026-11-22T10:00:00Z",
            "anonymous_id": "D1",
            "sku": "A",
            "price": 10,
        }
    )
    assert isinstance(parsed, Click) and parsed.qty == 1
    assert subject_of(parsed) == "a:D1"


def test_anonymous_receipt_has_no_subject() -> None:
    parsed = parse(receipt("e1", None, 10))
    assert isinstance(parsed, Receipt) and subject_of(parsed) == "-"


def _click(kind: str, **fields: object) -> bytes:
    base = {"event_id": "k", "type": kind, "ts": "2026-11-22T10:00:00Z", "anonymous_id": "D"}
    return orjson.dumps({**base, "customer_id": "C1", **fields})


def test_a_product_view_may_leave_its_product_out() -> None:
    assert isinstance(parse_event(_click("product_view")), Click)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{broken", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"event_id": "x"}', "missing field 'type'"),
        (b'{"event_id": "x", "type": "teleport"}', "unknown type 'teleport'"),
        (orjson.dumps(receipt("e", "C1", -5)), "total"),
        (orjson.dumps(receipt("e", "C1", "100")), "total"),
        (orjson.dumps(receipt("e", 42, 100)), "customer_id"),
        (orjson.dumps(receipt("e", "C1", 1, ts="2026-11-22T10:00:00")), "ts"),
        (orjson.dumps(receipt("e", "C1", 1, ts="yesterday")), "ts"),
        (orjson.dumps(receipt("", "C1", 1)), "event_id"),
        (orjson.dumps(receipt("x" * 129, "C1", 1)), "event_id"),
        (
            orjson.dumps(
                receipt("e", "C1", 1, lines=[{"sku": "a", "qty": 0, "price": 1, "amount": 1}])
            ),
            "qty",
        ),
        (orjson.dumps(customer("C1", timezone="Mars/Olympus")), "timezone"),
        (orjson.dumps(customer("C1", birthday="1990-13-01")), "birthday"),
        (orjson.dumps(customer("C1", birthday="19901126")), "birthday"),  # ISO, not YYYY-MM-DD
        (orjson.dumps(customer("C1", birthday="1990-W48-3")), "birthday"),
        ('{"event_id":"x","type":"receipt","ts":"é'.encode("latin-1"), "not JSON"),
        (_click("add_to_cart", price=10), "add_to_cart: sku is required"),  # no phantom line
        (_click("remove_from_cart"), "remove_from_cart: sku is required"),
        (_click("add_to_cart", sku=""), "add_to_cart: sku is required"),
    ],
)
def test_bad_input_is_rejected_with_a_one_line_reason(raw: bytes, reason: str) -> None:
    parsed = parse_event(raw)
    assert isinstance(parsed, Rejection)
    assert parsed.raw == raw
    assert reason in parsed.reason
    assert "\n" not in parsed.reason


def test_customer_update_keeps_only_given_fields() -> None:
    parsed = parse(customer("C1", contacts={"phone": "+79990001122"}))
    assert isinstance(parsed, CustomerUpdate)
    assert parsed.first_name is None and parsed.consents is None
    assert parsed.contacts is not None and parsed.contacts.phone == "+79990001122"


def test_consent_to_an_unknown_channel_is_ignored_not_rejected() -> None:
    parsed = parse(customer("C1", consents={"sms": True, "max_messenger": True}))
    assert isinstance(parsed, CustomerUpdate)
    state = CustomerState()
    apply_customer_update(state, parsed, 0.0)
    assert state.consents == {"sms": True}


def test_a_name_is_kept_without_blanks_and_blanks_only_are_no_name() -> None:
    state = CustomerState()
    for name, kept in [(" Анна ", "Анна"), ("   ", "")]:
        update = parse(customer("C1", first_name=name))
        assert isinstance(update, CustomerUpdate)
        apply_customer_update(state, update, 0.0)
        assert state.first_name == kept


def test_the_newest_consent_stands_whatever_order_updates_arrive_in() -> None:
    state = CustomerState()
    for at, consents in [
        (100.0, {"sms": True, "email": True}),
        (300.0, {"sms": False}),  # an opt-out in the app
        (200.0, {"sms": True, "push": True}),  # a CRM sync from before it, arriving late
        (300.0, {"email": False}),  # the same time as the newest: applied in order
        (150.0, {"push": False}),  # an older withdrawal still holds (a clock behind)
    ]:
        update = parse(customer("C1", consents=consents))
        assert isinstance(update, CustomerUpdate)
        apply_customer_update(state, update, at)
    assert state.consents == {"sms": False, "email": False, "push": False}
    assert state.consents_at == {"sms": 300, "email": 300, "push": 200}
    forget_before(state, 250.0)  # the dedup window moved on: push's time is forgotten
    assert state.consents_at == {"sms": 300, "email": 300}


@pytest.mark.parametrize(
    "event",
    [
        customer("C1", first_name="я" * 257),
        customer("C1", contacts={"email": "a" * 4097}),
        receipt("e1", "C1", 1.0, lines=[{"sku": "s", "qty": 1, "price": 1, "amount": 1}] * 1001),
    ],
)
def test_oversized_values_are_rejected_so_the_state_stays_bounded(event: dict) -> None:
    parsed = parse(event)
    assert isinstance(parsed, Rejection) and parsed.kind == "invalid"


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
@example(datetime(9999, 12, 31, 23), -60)  # 10000-01-01T00:00Z
@example(datetime(1, 1, 1, 0, 30), 60)  # 0000-12-31T23:30Z
def test_any_time_with_an_offset_parses_and_has_its_epoch_time(
    moment: datetime, offset_minutes: int
) -> None:
    """Even where UTC is outside years 1-9999 (the engine's admission window then decides:
    tests/flows/test_poison.py)."""
    offset = timezone(timedelta(minutes=offset_minutes))
    ts = moment.replace(tzinfo=offset).isoformat()
    parsed = parse(receipt("e1", "C1", 10, ts=ts))
    assert isinstance(parsed, Receipt), ts
    expected = (moment - datetime(1970, 1, 1)) / timedelta(seconds=1) - offset_minutes * 60
    assert epoch_of(parsed.ts) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    "ts", ["2026-11-22T10:00:00z", "2026-11-22t10:00:00Z", "2026-11-22t10:00:00.5z"]
)
def test_rfc3339_lower_case_t_and_z_are_utc_too(ts: str) -> None:
    """RFC 3339 5.6 allows them; Python's fromisoformat reads no lower-case z."""
    parsed = parse(receipt("e1", "C1", 10, ts=ts))
    assert isinstance(parsed, Receipt), parsed
    assert epoch_of(parsed.ts) == epoch_of(ts.upper())


def test_a_leap_second_is_the_next_second_as_posix_time_counts_it() -> None:
    parsed = parse(receipt("e1", "C1", 10, ts="2016-12-31T23:59:60Z"))
    assert isinstance(parsed, Receipt), parsed
    assert epoch_of(parsed.ts) == epoch_of("2017-01-01T00:00:00Z")
    assert epoch_of("2016-12-31T23:59:60.5+00:00") == epoch_of("2017-01-01T00:00:00.5Z")


@pytest.mark.parametrize(
    "ts",
    [
        "2026-W47-7T10:20:00+03:00",  # ISO 8601 week date
        "20261122T102000+0300",  # ISO 8601 basic format
        "2026-11-22T10:20+03:00",  # no seconds
        "2026-11-22T10+03",
        "2026-11-22T10:20:00+0300",  # offset without a colon
        "2026-11-22T10:20:00+03:00:30",  # offset with seconds
        "2026-11-22T10:20:03,5Z",  # decimal comma
        "2026-11-22",  # no time
        "2026-11-22T10:20:00",  # no offset
        "٢٠٢٦-11-22T10:20:00Z",  # digits of another script
        "2026-02-30T10:20:00Z",  # no such day
        "2026-11-22T10:20:61Z",
    ],
)
def test_only_rfc3339_date_times_are_timestamps(ts: str) -> None:
    """What fromisoformat reads beyond RFC 3339 would reach notices' event_ts as sent."""
    parsed = parse(receipt("e1", "C1", 10, ts=ts))
    assert isinstance(parsed, Rejection) and "RFC 3339" in parsed.reason, ts
