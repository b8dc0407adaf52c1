from __future__ import annotations

import io
import sys

import orjson
import pytest
import structlog

from smartcomms.config import LogSettings
from smartcomms.logs import configure, mask_text


def test_json_logs_mask_contacts_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure(LogSettings(format="json"))
    try:
        structlog.get_logger().info(
            "profile",
            phone="+79991234567",
            first_name="Анна",
            detail="write to anna.petrova@example.ru or +7 (999) 123-45-67",
        )
    finally:
        structlog.reset_defaults()
    record = orjson.loads(buffer.getvalue())
    text = buffer.getvalue()
    for secret in ("1234567", "Анна", "anna.petrova", "123-45-67"):
        assert secret not in text
    assert record["event"] == "profile" and record["level"] == "info"
    assert record["timestamp"][:2] == "20" and "***" not in record["timestamp"]


def test_dates_and_ids_in_free_text_are_not_mistaken_for_phones() -> None:
    text = "receipt of 2026-11-22T10:15:03+03:00, customer C0000005, call +7 999 123-45-67"
    assert mask_text(text) == (
        "receipt of 2026-11-22T10:15:03+03:00, customer C0000005, call +7***"
    )


def test_throttled_logs_each_kind_once_per_interval() -> None:
    from smartcomms.logs import Throttled

    said: list[tuple[str, dict]] = []

    class Logger:
        def warning(self, event: str, **fields: object) -> None:
            said.append((event, fields))

    throttled = Throttled(Logger(), 60.0)
    for _ in range(1000):
        throttled.warning("broker down", key="FAIL", error="refused")
    throttled.warning("broker down", key="RESOLVE", error="no host")
    assert said == [
        ("broker down", {"error": "refused"}),
        ("broker down", {"error": "no host"}),
    ]
    throttled._last = {kind: at - 61 for kind, at in throttled._last.items()}
    throttled.warning("broker down", key="FAIL", error="refused")
    assert said[-1] == ("broker down", {"error": "refused", "left_out": 999})
