"""Pydantic validation errors as one line per error, ``field.path: reason``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


def describe_errors(exc: ValidationError, sep: str = "\n", data: Any = None) -> str:
    """One line per error: ``field.path: reason`` (``sep`` joins them). Given the input
    that was validated (``data``), an item of a list that has an ``id`` is named by it
    (``steps.d4.after``, not ``steps.1.after``)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(_path(err["loc"], data))
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return sep.join(lines)


def _path(loc: Sequence[int | str], data: Any) -> list[str]:
    parts, node = [], data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            item = node[part]
            named = item.get("id") if isinstance(item, dict) else None
            parts.append(named if isinstance(named, str) and named else str(part))
        else:
            item = node.get(part) if isinstance(node, dict) else None
            parts.append(str(part))
        node = item
    return parts
