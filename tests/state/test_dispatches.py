"""Dispatches in Redis: a deadline finds its dispatch whatever the customer id holds."""

from __future__ import annotations

import redis

from channels.cascade import Dispatch, begin_send
from state.dispatches import DispatchStore


def test_a_deadline_finds_the_dispatch_of_a_customer_id_with_the_separator(
    redis_client: redis.Redis,
) -> None:
    store = DispatchStore(redis_client, "d")
    notice = {
        "notice_id": "58f0c7ab-6e79-5bf5-aef6-75126c23e625",
        "customer_id": "C\x1f1",  # any text is an id; the member joins the two with \x1f
        "channels": ["push", "sms"],
        "template": "bonus_earned",
        "vars": {},
    }
    ref = (notice["customer_id"], notice["notice_id"])
    dispatch = Dispatch.of_notice(notice)
    begin_send(dispatch, 100.0)  # a claimed send: due at once if its process dies
    store.save("0", {ref: dispatch}, new=[ref])
    assert store.due("0", 100.0) == [ref]
    assert store.load(store.due("0", 100.0)) == {ref: dispatch}
