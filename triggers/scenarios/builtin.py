"""The three built-in triggers as scenario definitions, from the ``triggers:`` settings.

They keep exactly the behaviour, notices and notice ids they had as code: one step each
(its id is the scenario's), the first step's notice id is the instance's (so
``notice_id`` stays UUIDv5 of trigger, customer and cause), and ``notice_vars`` keeps
their notices' vars as they were.
"""

from __future__ import annotations

from typing import Any

from triggers.durations import format_duration

BONUS_EARNED, ABANDONED_CART, WIN_BACK = "bonus_earned", "abandoned_cart", "win_back"
BUILT_IN = (BONUS_EARNED, ABANDONED_CART, WIN_BACK)


def builtin_definitions(
    bonus_template: str | None = "bonus_earned",
    cart_template: str | None = "abandoned_cart",
    cart_delay_s: float = 3600.0,
    win_back_template: str | None = "win_back",
    win_back_after_s: float = 30 * 86_400.0,
    win_back_offer: str = "Дарим 300 бонусов на следующую покупку",
) -> dict[str, dict[str, Any]]:
    """The built-ins as the configuration would write them; a template of None switches
    its trigger off."""
    return {
        BONUS_EARNED: {
            "enabled": bonus_template is not None,
            "kind": "transactional",
            # one per receipt of a known customer that earned or spent bonuses
            "entry": {
                "on": "purchase",
                "where": {"any": [{"earned": {"gt": 0}}, {"spent": {"gt": 0}}]},
            },
            "reentry_days": 0,
            "steps": [{"id": BONUS_EARNED, "after": 0, "template": bonus_template or BONUS_EARNED}],
            "notice_vars": [
                "first_name",
                "earned",
                "spent",
                "balance",
                "receipt_id",
                "store_id",
                "total",
                "currency",
            ],
        },
        ABANDONED_CART: {
            "enabled": cart_template is not None,
            "kind": "marketing",
            # every change re-arms it; a purchase or an emptied cart ends it
            "entry": {"on": "cart_changed"},
            "restart": True,
            "reentry_days": 0,
            "exit_on": ["purchase", "cart_emptied"],
            "steps": [
                {
                    "id": ABANDONED_CART,
                    "after": format_duration(cart_delay_s),
                    "if": {"cart_items": {"gt": 0}},
                    "template": cart_template or ABANDONED_CART,
                }
            ],
            "notice_vars": ["first_name", "lines", "total", "items"],
        },
        WIN_BACK: {
            "enabled": win_back_template is not None,
            "kind": "marketing",
            # counted from the latest purchase: a later one starts it again
            "entry": {"on": "purchase", "where": {"latest": True}},
            "restart": True,
            "reentry_days": 0,
            "steps": [
                {
                    "id": WIN_BACK,
                    "after": format_duration(win_back_after_s),
                    "template": win_back_template or WIN_BACK,
                    "vars": {"offer": win_back_offer},
                }
            ],
            "notice_vars": ["first_name", "offer", "days_since_purchase"],
        },
    }
