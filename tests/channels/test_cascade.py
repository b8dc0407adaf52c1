from __future__ import annotations

from channels.cascade import (
    Dispatch,
    begin_send,
    gateway_answered,
    receipt,
    resume_after_crash,
    timed_out,
)

ENDING = {"delivered", "opened"}


def dispatch(channels: list[str]) -> Dispatch:
    return Dispatch.of_notice(
        {
            "notice_id": "n1",
            "customer_id": "C1",
            "channels": channels,
            "template": "win_back",
            "vars": {},
        }
    )


def test_gateway_refusal_moves_to_the_next_channel() -> None:
    d = dispatch(["email", "viber", "sms"])
    assert begin_send(d, 0) == "email"
    gateway_answered(d, False, "550 no such user", 1, timeout_s=60)
    assert (d.status, d.channel) == ("pending", "viber")
    assert d.attempts == [["email", "failed", 0, "550 no such user"]]


def test_failed_receipt_and_timeout_move_on_delivered_stops() -> None:
    d = dispatch(["push", "viber", "sms"])
    begin_send(d, 0)
    gateway_answered(d, True, None, 0, timeout_s=600)
    assert (d.status, d.deadline) == ("waiting", 600)
    assert receipt(d, "push", "failed", 10, ENDING)
    assert d.channel == "viber"
    begin_send(d, 10)
    gateway_answered(d, True, None, 10, timeout_s=7200)
    assert not timed_out(d, 7209) and timed_out(d, 7210)
    assert d.channel == "sms" and d.attempts[1][1] == "timed_out"
    begin_send(d, 7210)
    gateway_answered(d, True, None, 7210, timeout_s=86400)
    assert receipt(d, "sms", "delivered", 7300, ENDING)
    assert d.finished and d.status == "done" and d.channel is None
    assert [a[1] for a in d.attempts] == ["failed", "timed_out", "delivered"]


def test_stale_and_late_receipts_are_ignored() -> None:
    d = dispatch(["push", "sms"])
    begin_send(d, 0)
    gateway_answered(d, False, "unregistered", 0, timeout_s=600)
    assert not receipt(d, "push", "delivered", 5, ENDING)  # the cascade left push
    begin_send(d, 5)
    gateway_answered(d, True, None, 5, timeout_s=600)
    assert receipt(d, "sms", "delivered", 9, ENDING)
    assert not receipt(d, "sms", "failed", 10, ENDING)  # already done


def test_only_opened_ends_where_reads_are_reported() -> None:
    d = dispatch(["viber", "sms"])
    begin_send(d, 0)
    gateway_answered(d, True, None, 0, timeout_s=100)
    receipt(d, "viber", "delivered", 1, {"opened"})
    assert d.status == "waiting" and d.attempts[-1][1] == "delivered"
    assert timed_out(d, 100) and d.channel == "sms"  # delivered but unread: go on to SMS


def test_a_click_is_an_opening_and_ends_the_cascade() -> None:
    for ending in (ENDING, {"opened"}):
        d = dispatch(["telegram", "sms"])
        begin_send(d, 0)
        gateway_answered(d, True, None, 0, timeout_s=100)
        assert receipt(d, "telegram", "clicked", 1, ending)
        assert d.finished and d.attempts[-1][1] == "clicked"
        assert not timed_out(d, 100)  # no SMS after a read message


def test_last_channel_failing_exhausts_the_cascade() -> None:
    d = dispatch(["sms"])
    begin_send(d, 0)
    gateway_answered(d, False, "bad number", 0, timeout_s=100)
    assert d.status == "exhausted" and d.finished


def test_interrupted_send_resumes_without_a_second_send_unless_idempotent() -> None:
    risky = dispatch(["viber", "sms"])
    begin_send(risky, 100)  # stored, then the worker died before the gateway answered
    resume_after_crash(risky, 150, idempotent=False, timeout_s=7200)
    assert (risky.status, risky.deadline, risky.channel) == ("waiting", 7300, "viber")
    assert risky.attempts[-1][1] == "unknown"
    safe = dispatch(["sms", "email"])
    begin_send(safe, 100)
    resume_after_crash(safe, 150, idempotent=True, timeout_s=600)
    assert (safe.status, safe.channel, safe.attempts) == ("pending", "sms", [])
