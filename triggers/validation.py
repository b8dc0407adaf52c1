"""Pydantic validation errors as one line per error, ``field.path: reason``."""

from __future__ import annotations

from pydantic import ValidationError


def describe_errors(exc: ValidationError, sep: str = "\n") -> str:
    """One line per error: ``field.path: reason`` (``sep`` joins them)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return sep.join(lines)
