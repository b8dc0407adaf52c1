"""Russian message texts per template and channel.

Issue 4 moves these into configurable sandboxed templates; the texts and number formats
here are the defaults they must reproduce.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

NBSP = "\u00a0"


def plural(n: float, one: str, few: str, many: str) -> str:
    """Russian plural form for n: 1 бонус, 2 бонуса, 5 бонусов, 1,5 бонуса."""
    if n != int(n):
        return few
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def number(value: float) -> str:
    """Russian number format: 1 990 and 1 990,5 (non-breaking space between thousands)."""
    if value == int(value):
        return f"{int(value):,}".replace(",", NBSP)
    whole, frac = f"{value:,.2f}".split(".")
    return whole.replace(",", NBSP) + "," + frac.rstrip("0")


def _bonuses(n: float) -> str:
    return f"{number(n)} {plural(n, 'бонус', 'бонуса', 'бонусов')}"


def bonus_earned(vars: Mapping[str, Any], channel: str) -> str:
    """«Анна, начислено 50 бонусов, на счёте 840.» (and «списано …» when bonuses were spent)."""
    parts = []
    if vars["earned"]:
        parts.append(f"начислено {_bonuses(vars['earned'])}")
    if vars["spent"]:
        parts.append(f"списано {_bonuses(vars['spent'])}")
    parts.append(f"на счёте {number(vars['balance'])}")
    text = ", ".join(parts) + "."
    name = vars.get("first_name")
    return f"{name}, {text}" if name else text[0].upper() + text[1:]


Renderer = Callable[[Mapping[str, Any], str], str]

TEMPLATES: dict[str, Renderer] = {"bonus_earned": bonus_earned}


def render(template: str, channel: str, vars: Mapping[str, Any]) -> str:
    """The text of ``template`` for ``channel``; KeyError for an unknown template."""
    return TEMPLATES[template](vars, channel)
