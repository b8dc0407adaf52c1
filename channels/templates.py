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
    return _greeting(vars, ", ".join(parts) + ".")


def money(value: float) -> str:
    """Roubles the Russian way: 1 990,00 ₽."""
    whole, frac = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', NBSP)},{frac}{NBSP}₽"


def _greeting(vars: Mapping[str, Any], text: str) -> str:
    name = vars.get("first_name")
    return f"{name}, {text}" if name else text[0].upper() + text[1:]


def abandoned_cart(vars: Mapping[str, Any], channel: str) -> str:
    """«Анна, в корзине ждут 3 товара на 1 990,00 ₽. Оформите заказ, пока они в наличии.»"""
    items = vars["items"]
    goods = plural(items, "товар", "товара", "товаров")
    waiting = "ждёт" if plural(items, "1", "2", "5") == "1" else "ждут"
    return _greeting(
        vars,
        f"в корзине {waiting} {items} {goods} на {money(vars['total'])}. "
        "Оформите заказ, пока они в наличии.",
    )


def win_back(vars: Mapping[str, Any], channel: str) -> str:
    """«Анна, давно не виделись! Дарим 300 бонусов на следующую покупку.»"""
    return _greeting(vars, f"давно не виделись! {vars['offer']}.")


Renderer = Callable[[Mapping[str, Any], str], str]

TEMPLATES: dict[str, Renderer] = {
    "bonus_earned": bonus_earned,
    "abandoned_cart": abandoned_cart,
    "win_back": win_back,
}


def render(template: str, channel: str, vars: Mapping[str, Any]) -> str:
    """The text of ``template`` for ``channel``; KeyError for an unknown template."""
    return TEMPLATES[template](vars, channel)
