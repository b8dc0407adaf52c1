"""structlog setup: JSON when stderr is not a terminal, console when it is; PII masked."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog

from smartcomms.config import LogSettings

PII_KEYS = frozenset(
    {
        "phone",
        "email",
        "push_token",
        "web_push",
        "telegram_chat_id",
        "viber_id",
        "whatsapp",
        "first_name",
        "name",
        "contacts",
        "text",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"\+?\d(?:[\s()-]*\d){9,}")
"""ten digits or more, with separators: a phone number, not a date (2026-11-22 has eight)"""


def mask(value: str) -> str:
    """Keep the first two characters, hide the rest: ``+79991234567`` -> ``+7***``."""
    return value[:2] + "***" if value else value


def mask_text(text: str) -> str:
    """Hide e-mail addresses and phone numbers inside free text."""
    return _PHONE.sub(lambda m: mask(m.group()), _EMAIL.sub(lambda m: mask(m.group()), text))


def mask_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask known PII fields and PII-looking substrings."""
    for key, value in list(event.items()):
        if key in PII_KEYS:
            event[key] = mask(str(value)) if not isinstance(value, dict) else "***"
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


def configure(settings: LogSettings) -> None:
    """Configure structlog once for the process."""
    json_output = settings.format == "json" or (
        settings.format == "auto" and not sys.stderr.isatty()
    )
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            mask_pii,
            structlog.processors.TimeStamper(fmt="iso", utc=True),  # after masking: not PII
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class Throttled:
    """Logs each kind of event at most once per ``interval_s``, saying how many of its
    kind it left out since (a failure repeating thousands of times a second is one line
    per interval, not a flood)."""

    def __init__(self, logger: Any, interval_s: float) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def warning(self, event: str, key: str = "", **fields: Any) -> None:
        """``logger.warning(event, **fields)`` unless one of its kind (the event, and
        ``key``) went out lately."""
        kind = f"{event}\x1f{key}"
        now = time.monotonic()
        if now - self._last.get(kind, float("-inf")) < self._interval_s:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return
        self._last[kind] = now
        left_out = self._left_out.pop(kind, 0)
        if left_out:
            fields["left_out"] = left_out
        self._logger.warning(event, **fields)
