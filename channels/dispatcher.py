"""The dispatcher: walks each notice down its cascade through the configured gateways.

For one shard's batch of notices, delivery receipts and clock ticks: new notices start
their cascade (a notice seen before is ignored), receipts and timeouts move cascades on,
and every cascade that has a channel to try sends to it — the send claimed in Redis first,
so a crash never sends twice to the same channel (see `cascade.resume_after_crash`).
Returns the delivery receipts of synchronous gateway answers (sent / failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from channels.cascade import (
    Dispatch,
    begin_send,
    gateway_answered,
    outcome_counts,
    receipt,
    resume_after_crash,
    timed_out,
)
from channels.gateways.base import Message, SendResult
from channels.gateways.factory import ConfiguredGateway
from channels.templates import TemplateSet
from smartcomms.config import DispatchSettings
from smartcomms.logs import Throttled
from smartcomms.observability import BATCH_SIZE, DISPATCH_FAILURES, HEALTH, SENDS
from state.customers import CustomerStore
from state.dispatches import DispatchStore, NoticeRef
from triggers.events import CONTACT_CHANNEL, Delivery
from triggers.notices import rfc3339_utc

CHANNEL_CONTACT = {channel: contact for contact, channel in CONTACT_CHANNEL.items()}
IDEMPOTENT_KINDS = ("SmsGateway", "WebhookGateway", "KafkaGateway")
"""gateways that take our idempotency key: an interrupted send to them is repeated"""
DEFAULT_ENDING = ("delivered", "opened")


@dataclass(frozen=True, slots=True)
class Tick:
    """Time to look for cascades whose channel timed out."""

    at: float
    shard: str


class Dispatcher:
    """Cascades of one process; each channel's sends of a batch go out concurrently."""

    def __init__(
        self,
        store: DispatchStore,
        customers: CustomerStore,
        gateways: Mapping[str, ConfiguredGateway],
        templates: TemplateSet,
        settings: DispatchSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._customers = customers
        self._gateways = gateways
        self._templates = templates
        self._settings = settings
        self._clock = clock
        self._failures = Throttled(structlog.get_logger(), 60.0)

    def close(self) -> None:
        """Close the gateways."""
        for gateway in self._gateways.values():
            gateway.close()

    def process(
        self,
        shard: str,
        items: Sequence[dict[str, Any] | Delivery | Tick],
        failed: Callable[[int, str], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Apply a shard's notices, receipts and ticks; send; return sync receipts.

        An item the dispatcher fails on changes nothing and never stops the batch:
        ``failed(index, reason)`` hears of it (the flow dead-letters it), and it is
        counted and logged."""
        now = self._clock()
        refs = [_ref(item) for item in items if not isinstance(item, Tick)]
        due = self._store.due(shard, now) if any(isinstance(i, Tick) for i in items) else []
        known = self._store.load([*refs, *due])
        gone = [ref for ref in due if ref not in known]  # expired, its index entry left
        ended_before = {ref for ref, dispatch in known.items() if dispatch.finished}
        touched: dict[NoticeRef, Dispatch] = {}
        for dispatch in known.values():  # a previous process died between claim and answer
            if dispatch.status == "sending":
                resume_after_crash(
                    dispatch, now, self._idempotent(dispatch), self._timeout(dispatch)
                )
                touched[_ref_of(dispatch)] = dispatch
        created: list[NoticeRef] = []
        # ticks last: a receipt read in the same batch as a timeout came before it
        for index, item in sorted(enumerate(items), key=lambda pair: isinstance(pair[1], Tick)):
            undo = _undo_point(item, known, touched, created)
            try:
                self._apply(item, known, touched, created, now)
            except Exception as exc:  # the item's data; Redis is not called here
                undo()
                reason = f"dispatch: {type(exc).__name__}: {exc}"
                DISPATCH_FAILURES.labels("apply").inc()
                self._failures.warning("dispatcher failed on an item", error=reason)
                if failed is not None:
                    failed(index, reason)
        receipts = self._send_pending(shard, touched, now, created)
        ended = (d for ref, d in touched.items() if d.finished and ref not in ended_before)
        self._store.save(shard, touched, outcomes=outcome_counts(ended), gone=gone)
        BATCH_SIZE.labels("dispatch").observe(len(items))
        HEALTH.beat()
        return receipts

    def _apply(
        self,
        item: dict[str, Any] | Delivery | Tick,
        known: dict[NoticeRef, Dispatch],
        touched: dict[NoticeRef, Dispatch],
        created: list[NoticeRef],
        now: float,
    ) -> None:
        if isinstance(item, Tick):
            for ref, dispatch in known.items():
                if timed_out(dispatch, now):
                    touched[ref] = dispatch
            return
        ref = _ref(item)
        if isinstance(item, Delivery):
            current = known.get(ref)
            ending = self._settings.ending.get(item.channel, DEFAULT_ENDING)
            if current is not None and receipt(current, item.channel, item.status, now, ending):
                touched[ref] = current
        elif ref not in known:  # a notice seen before is not sent again
            known[ref] = touched[ref] = Dispatch.of_notice(item)
            created.append(ref)

    def _send_pending(
        self,
        shard: str,
        touched: dict[NoticeRef, Dispatch],
        now: float,
        created: list[NoticeRef],
    ) -> list[dict[str, Any]]:
        receipts: list[dict[str, Any]] = []
        pending = [d for d in touched.values() if d.status == "pending"]
        while pending:  # a refused channel hands over to the next one at once
            addresses = self._addresses([d.customer_id for d in pending])
            for dispatch in pending:
                begin_send(dispatch, now)
            self._store.save(shard, {_ref_of(d): d for d in pending}, created)  # the claims
            created = []
            results = self._send_all(pending, addresses)
            for dispatch, result in zip(pending, results, strict=True):
                channel = dispatch.attempts[-1][0]
                gateway_answered(
                    dispatch,
                    result.outcome == "sent",
                    result.error,
                    now,
                    self._timeout(dispatch, channel),
                )
                receipts.append(
                    delivery_receipt(dispatch.notice_id, dispatch.customer_id, channel, result, now)
                )
                SENDS.labels(channel, receipts[-1]["status"]).inc()
            pending = [d for d in pending if d.status == "pending"]
        return receipts

    def _send_all(
        self, pending: list[Dispatch], addresses: Mapping[str, Mapping[str, str]]
    ) -> list[SendResult]:
        """Each dispatch's current channel, all sends of a channel at once."""
        results: list[SendResult | None] = [None] * len(pending)
        by_channel: dict[str, list[tuple[int, Message]]] = {}
        for index, dispatch in enumerate(pending):
            channel = dispatch.attempts[-1][0]
            address = addresses.get(dispatch.customer_id, {}).get(CHANNEL_CONTACT[channel])
            if channel not in self._gateways:
                results[index] = SendResult("failed", error=f"no gateway configured for {channel}")
            elif not address:
                results[index] = SendResult("failed", error=f"no {channel} contact any more")
            else:
                try:
                    content = self._templates.render(dispatch.template, channel, dispatch.vars)
                except Exception as exc:  # this channel's message cannot be made: the next
                    DISPATCH_FAILURES.labels("render").inc()
                    error = f"render: {type(exc).__name__}: {exc}"
                    results[index] = SendResult("failed", error=error)
                    continue
                message = Message(
                    dispatch.notice_id, dispatch.customer_id, channel, address, content
                )
                by_channel.setdefault(channel, []).append((index, message))
        for channel, batch in by_channel.items():
            sent = self._gateways[channel].deliver_all([message for _, message in batch])
            for (index, _), (result, _attempts) in zip(batch, sent, strict=True):
                results[index] = result
        return [result for result in results if result is not None]

    def _addresses(self, customer_ids: list[str]) -> dict[str, dict[str, str]]:
        states = self._customers.load(["c:" + c for c in dict.fromkeys(customer_ids)])
        return {subject[2:]: state.contacts for subject, state in states.items()}

    def _timeout(self, dispatch: Dispatch, channel: str | None = None) -> float:
        channel = channel or dispatch.channels[dispatch.step]
        return self._settings.timeout_minutes.get(channel, 60) * 60

    def _idempotent(self, dispatch: Dispatch) -> bool:
        gateway = self._gateways.get(dispatch.channels[dispatch.step])
        return gateway is not None and type(gateway.gateway).__name__ in IDEMPOTENT_KINDS


def _undo_point(
    item: dict[str, Any] | Delivery | Tick,
    known: dict[NoticeRef, Dispatch],
    touched: dict[NoticeRef, Dispatch],
    created: list[NoticeRef],
) -> Callable[[], None]:
    """How to take back what applying ``item`` changes (its own dispatch only; a tick
    touches every due dispatch: their copies)."""
    refs = list(known) if isinstance(item, Tick) else [_ref(item)]
    saved = {ref: known[ref].copy() for ref in refs if ref in known}
    was_touched = {ref for ref in refs if ref in touched}
    created_before = len(created)

    def undo() -> None:
        for ref in refs:
            if ref in saved:
                known[ref] = saved[ref]
                if ref in was_touched:
                    touched[ref] = saved[ref]
                else:
                    touched.pop(ref, None)
            else:
                known.pop(ref, None)
                touched.pop(ref, None)
        del created[created_before:]

    return undo


def _ref(item: dict[str, Any] | Delivery) -> NoticeRef:
    if isinstance(item, Delivery):
        return item.customer_id, item.notice_id
    return item["customer_id"], item["notice_id"]


def _ref_of(dispatch: Dispatch) -> NoticeRef:
    return dispatch.customer_id, dispatch.notice_id


def delivery_receipt(
    notice_id: str, customer_id: str, channel: str, result: SendResult, now: float
) -> dict[str, Any]:
    """A delivery event of the contract for a gateway's synchronous answer."""
    status = "sent" if result.outcome == "sent" else "failed"
    event: dict[str, Any] = {
        "event_id": f"{notice_id}:{channel}:{status}",
        "type": "delivery",
        "ts": rfc3339_utc(now),
        "notice_id": notice_id,
        "customer_id": customer_id,
        "channel": channel,
        "status": status,
    }
    if result.error:
        event["error"] = result.error
    return event
