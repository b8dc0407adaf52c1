"""structlog setup: JSON when stderr is not a terminal, console when it is; PII masked."""

from __future__ import annotations

import logging
import re
import sys
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
