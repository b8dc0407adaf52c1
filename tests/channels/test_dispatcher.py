"""The dispatcher against a real Redis and real local provider servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import orjson
import pytest
import redis

from channels.cascade import Dispatch, begin_send
from channels.dispatcher import Dispatcher, Tick
from channels.gateways.delivery import RetryPolicy
from channels.gateways.factory import ConfiguredGateway
from channels.gateways.http import SmsGateway, TelegramGateway, WebhookGateway
from channels.templates import SAMPLE_VARS, TemplateSet
from smartcomms.config import DispatchSettings
from state.activity import delivery_counters
from state.customers import CustomerStore
from state.dispatches import DispatchStore
from tests.gateway_server import Answer, Provider, provider
from triggers.customer import CustomerState
from triggers.events import Delivery

CONTACTS = {"push_token": "tok", "phone": "+79990001122", "telegram_chat_id": "42"}


@pytest.fixture
def providers() -> Iterator[dict[str, Provider]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(provider()) for name in ("push", "sms", "telegram")}


class Harness:
    def __init__(self, client: redis.Redis, providers: dict[str, Provider]) -> None:
        self.now = 1_000_000.0
        self.store = DispatchStore(client, "ds")
        customers = CustomerStore(client, "ds", 3600)
        customers.save({"c:C1": CustomerState(contacts=dict(CONTACTS))})
        once = RetryPolicy(attempts=1)
        gateways = {
            "push": ConfiguredGateway(WebhookGateway(providers["push"].url), once, None),
            "sms": ConfiguredGateway(SmsGateway(providers["sms"].url), once, None),
            "telegram": ConfiguredGateway(
                TelegramGateway(providers["telegram"].url, token="t"), once, None
            ),
        }
        self.dispatcher = Dispatcher(
            self.store,
            customers,
            gateways,
            TemplateSet.with_overrides({}),
            DispatchSettings(),
            clock=lambda: self.now,
        )

    def run(self, *items: Any) -> list[dict[str, Any]]:
        return self.dispatcher.process("0", list(items))

    def dispatch(self, notice_id: str = "n1") -> Dispatch:
        return self.store.load([("C1", notice_id)])[("C1", notice_id)]


@pytest.fixture
def harness(redis_client: redis.Redis, providers: dict[str, Provider]) -> Iterator[Harness]:
    made = Harness(redis_client, providers)
    yield made
    made.dispatcher.close()


def notice(channels: list[str], notice_id: str = "n1") -> dict[str, Any]:
    return {
        "notice_id": notice_id,
        "customer_id": "C1",
        "channels": channels,
        "template": "abandoned_cart",
        "vars": SAMPLE_VARS["abandoned_cart"],
    }


def delivery(channel: str, status: str, notice_id: str = "n1") -> Delivery:
    return Delivery(
        event_id=f"d-{channel}-{status}",
        ts="2026-11-22T10:00:00+00:00",
        type="delivery",
        notice_id=notice_id,
        customer_id="C1",
        channel=channel,
        status=status,
    )


def test_refused_channel_cascades_to_the_next_with_its_own_text(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    providers["push"].answer(Answer(404, {"error": "unregistered"}))
    receipts = harness.run(notice(["push", "sms"]))
    assert [(r["channel"], r["status"]) for r in receipts] == [("push", "failed"), ("sms", "sent")]
    assert receipts[0]["event_id"] == "n1:push:failed" and "404" in receipts[0]["error"]
    sms = providers["sms"].requests[0].json()
    assert sms["to"] == "+79990001122" and sms["text"].startswith("В корзине ждут")  # SMS text
    assert providers["push"].requests[0].json()["text"].startswith("Анна, в корзине")
    assert harness.dispatch().status == "waiting"


def test_delivered_receipt_stops_the_cascade(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    harness.run(notice(["push", "sms"]))
    harness.run(delivery("push", "delivered"))
    harness.now += 10 * 86_400
    harness.run(Tick(harness.now, "0"))
    assert harness.dispatch().status == "done"
    assert providers["sms"].requests == []


def test_a_receipt_read_with_its_timeout_wins_over_it(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    """The tick before the receipt in one batch: the receipt came in time, read late."""
    harness.run(notice(["push", "sms"]))
    harness.now += 11 * 60
    assert harness.run(Tick(harness.now, "0"), delivery("push", "delivered")) == []
    assert harness.dispatch().status == "done"
    assert providers["sms"].requests == []


def test_a_deadline_whose_cascade_expired_leaves_the_index(
    harness: Harness, providers: dict[str, Provider], redis_client: redis.Redis
) -> None:
    harness.run(notice(["push", "sms"]))
    redis_client.delete(harness.store.key(("C1", "n1")))  # expired, or evicted
    harness.now += 11 * 60
    assert harness.run(Tick(harness.now, "0")) == []
    assert harness.store.due("0", harness.now) == []  # not read again at every tick
    assert providers["sms"].requests == []


def test_unanswered_channel_times_out_to_the_next(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    harness.run(notice(["push", "sms"]))
    harness.now += 9 * 60
    assert harness.run(Tick(harness.now, "0")) == []  # push has 10 minutes
    harness.now += 2 * 60
    receipts = harness.run(Tick(harness.now, "0"))
    assert [(r["channel"], r["status"]) for r in receipts] == [("sms", "sent")]
    assert [a[1] for a in harness.dispatch().attempts] == ["timed_out", "sent"]


def test_failed_receipt_moves_on_and_a_stale_one_is_ignored(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    harness.run(notice(["push", "sms"]))
    harness.run(delivery("push", "failed"))
    assert len(providers["sms"].requests) == 1
    harness.run(delivery("push", "delivered"))  # too late: the cascade left push
    assert harness.dispatch().channel == "sms"


def test_a_notice_seen_twice_is_sent_once(harness: Harness, providers: dict[str, Provider]) -> None:
    harness.run(notice(["push"]), notice(["push"]))
    harness.run(notice(["push"]))  # redelivered later
    assert len(providers["push"].requests) == 1


def test_exhausted_cascade(harness: Harness, providers: dict[str, Provider]) -> None:
    providers["push"].answer(Answer(400))
    providers["sms"].answer(Answer(400))
    harness.run(notice(["push", "sms", "email"]))  # no e-mail gateway configured
    dispatch = harness.dispatch()
    assert dispatch.status == "exhausted"
    assert dispatch.attempts[-1][3] == "no gateway configured for email"


def test_crash_between_claim_and_answer(harness: Harness, providers: dict[str, Provider]) -> None:
    # a previous process claimed the sends and died before the gateways answered
    for notice_id, channels in (("risky", ["telegram", "sms"]), ("safe", ["sms", "push"])):
        dispatch = Dispatch.of_notice(notice(channels, notice_id))
        begin_send(dispatch, harness.now - 5)
        harness.store.save("0", {("C1", notice_id): dispatch})
    harness.run(delivery("telegram", "sent", "risky"), delivery("sms", "sent", "safe"))
    assert providers["telegram"].requests == []  # may have gone out: not sent again
    assert harness.dispatch("risky").status == "waiting"
    [resent] = providers["sms"].requests  # the SMS gateway dedups by our key: sent again
    assert resent.headers["Idempotency-Key"] == "safe:sms"
    assert orjson.loads(resent.body)["to"] == "+79990001122"


def test_trace_shows_a_notices_cascade(
    harness: Harness, providers: dict[str, Provider], redis_url: str
) -> None:
    providers["push"].answer(Answer(404, {"error": "unregistered"}))
    harness.run(notice(["push", "sms"]))
    env = {**os.environ, "SMARTCOMMS_REDIS__PREFIX": "ds"}
    cmd = [sys.executable, "-m", "smartcomms.cli", "trace", "--redis-url", redis_url]
    result = subprocess.run(
        [*cmd, "n1"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    traced = orjson.loads(line)
    assert traced["status"] == "waiting" and traced["channels"] == ["push", "sms"]
    assert [a[:2] for a in traced["attempts"]] == [["push", "failed"], ["sms", "sent"]]
    assert "404" in traced["attempts"][0][3]
    unknown = subprocess.run(
        [*cmd, "nope"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert unknown.returncode == 1 and "was not dispatched" in unknown.stderr


def test_a_send_interrupted_by_a_crash_is_found_by_the_next_tick(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    # no receipt will ever come for a message that may not have gone out: the clock must
    # find the claim by itself
    dispatch = Dispatch.of_notice(notice(["sms", "push"], "orphan"))
    begin_send(dispatch, harness.now - 5)
    harness.store.save("0", {("C1", "orphan"): dispatch})
    harness.run(Tick(harness.now, "0"))
    [resent] = providers["sms"].requests
    assert resent.headers["Idempotency-Key"] == "orphan:sms"
    assert harness.dispatch("orphan").status == "waiting"


def test_a_message_that_cannot_be_rendered_fails_its_channel_only(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    broken = {"sku": "kettle"}  # a notice of an older version: its lines lack amounts
    vars_ = {**SAMPLE_VARS["abandoned_cart"], "lines": [broken]}
    harness.dispatcher._templates = TemplateSet.with_overrides(
        {"abandoned_cart": {"push": {"text": "{{ lines[0].amount|money }}"}}}
    )
    receipts = harness.run({**notice(["push", "sms"]), "vars": vars_})
    assert [(r["channel"], r["status"]) for r in receipts] == [("push", "failed"), ("sms", "sent")]
    assert receipts[0]["error"].startswith("render: TypeError")
    assert providers["push"].requests == [] and len(providers["sms"].requests) == 1


def test_an_item_the_dispatcher_fails_on_changes_nothing_and_is_reported(
    harness: Harness, providers: dict[str, Provider]
) -> None:
    failed: list[tuple[int, str]] = []
    odd = {**notice(["push"], "n2"), "channels": None}  # not a list: no cascade to walk
    receipts = harness.dispatcher.process("0", [odd, notice(["push"])], lambda *f: failed.append(f))
    assert [r["notice_id"] for r in receipts] == ["n1"]
    assert failed and failed[0][0] == 0 and failed[0][1].startswith("dispatch: TypeError")
    assert harness.store.load([("C1", "n2")]) == {}  # nothing stored for it


def test_cascade_outcomes_are_counted_once_for_the_console(
    harness: Harness, providers: dict[str, Provider], redis_client: redis.Redis
) -> None:
    providers["push"].answer(Answer(404, {"error": "unregistered"}))  # refused: not billed
    harness.run(notice(["push", "sms"]), notice(["sms"], "n2"))
    harness.run(delivery("sms", "delivered"), delivery("sms", "failed", "n2"))
    # redelivered receipts and notices, and a tick, change nothing
    harness.run(delivery("sms", "delivered"), delivery("sms", "failed", "n2"), notice(["sms"]))
    harness.now += 86_400
    harness.run(Tick(harness.now, "0"))
    assert delivery_counters(redis_client, "ds").totals() == {
        "delivered|2|sms": 1,  # on the second channel of its cascade
        "unreachable": 1,
        "sends|sms": 2,  # a failed receipt is a message the provider took
    }
