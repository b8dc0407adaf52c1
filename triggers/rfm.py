"""RFM scores and segments (contract: "Segments and loyalty"). Pure functions of a state.

R is from the time since the latest purchase (elapsed time, not whole days): 5 while it
is below the first recency bound, 4 below the second, ... 1 from the last. F and M are
the purchases (net of returns) and the spend of the window (now - 365 days, now]: 1
below the first bound, ... 5 from the last. The segment is named from R and F
(`SEGMENTS`); a customer without purchases has neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triggers.customer import DAY

RFM_WINDOW_S = 365 * DAY
"""F and M count the purchases of this window"""


def _segment_map() -> dict[tuple[int, int], str]:
    cells = {
        "champions": ((5,), (4, 5)),
        "loyal": ((3, 4), (4, 5)),
        "potential_loyalists": ((4, 5), (2, 3)),
        "new": ((5,), (1,)),
        "promising": ((4,), (1,)),
        "need_attention": ((3,), (3,)),
        "about_to_sleep": ((3,), (1, 2)),
        "cant_lose": ((1, 2), (5,)),
        "at_risk": ((1, 2), (3, 4)),
        "hibernating": ((1, 2), (1, 2)),
    }
    return {(r, f): name for name, (rs, fs) in cells.items() for r in rs for f in fs}


SEGMENTS: dict[tuple[int, int], str] = _segment_map()
"""(R, F) -> segment name: every one of the 25 cells"""
SEGMENT_NAMES = tuple(dict.fromkeys(SEGMENTS.values()))


@dataclass(frozen=True, slots=True)
class RfmBounds:
    """Four ascending bounds per score."""

    recency_s: tuple[float, float, float, float]
    """elapsed seconds since the latest purchase"""
    frequency: tuple[float, float, float, float]
    monetary: tuple[float, float, float, float]

    @classmethod
    def of_days(
        cls, recency_days: Sequence[float], frequency: Sequence[float], monetary: Sequence[float]
    ) -> RfmBounds:
        """Bounds as configured: recency in days."""
        return cls(
            tuple(days * DAY for days in recency_days),  # type: ignore[arg-type]
            tuple(frequency),  # type: ignore[arg-type]
            tuple(monetary),  # type: ignore[arg-type]
        )


def recency_score(last_purchase_at: float, now: float, bounds: RfmBounds) -> int:
    """5 while ``now`` is before the latest purchase + the first bound, ... 1 from the
    last (R drops at exactly last purchase + bound)."""
    score = 5
    for bound in bounds.recency_s:
        if now >= last_purchase_at + bound:
            score -= 1
    return score


def ascending_score(value: float, bounds: Sequence[float]) -> int:
    """1 below the first bound, 2 below the second, ... 5 from the last."""
    score = 1
    for bound in bounds:
        if value >= bound:
            score += 1
    return score


def rfm_code(r: int, f: int, m: int) -> str:
    """The three digits, ``"543"``."""
    return f"{r}{f}{m}"


def segment_of(rfm: str | None) -> str | None:
    """The segment of an RFM code (None: no purchases, no segment)."""
    if rfm is None:
        return None
    return SEGMENTS[int(rfm[0]), int(rfm[1])]
