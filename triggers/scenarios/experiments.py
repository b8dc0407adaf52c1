"""Who gets which variant of a scenario, and who is in a control group: pure functions of
(scenario, customer), so every worker, restart and replay agrees without keeping anything.

Each draw hashes the customer with its own salt (BLAKE2b, 64 bits, read as a point in
[0, 1)), so the variant, the scenario's control group and the global control group are
independent of each other: 10 % control and 50/50 variants give 45/45/10 of customers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b
from itertools import accumulate

_SCALE = float(2**64)


def draw(salt: str, scenario: str, customer_id: str) -> float:
    """A point in [0, 1) fixed by (salt, scenario, customer), uniform over customers."""
    digest = blake2b(f"{salt}\x1f{scenario}\x1f{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True, slots=True)
class Assignment:
    """A customer's place in a scenario's experiment."""

    variant: str | None
    """the A/B variant (None: the scenario has no variants)"""
    control: bool
    """in the control group: the instance runs and is counted, nothing is sent"""


@dataclass(frozen=True, slots=True)
class Experiment:
    """A scenario's variants and control groups, compiled for quick assignment."""

    scenario: str
    variants: tuple[str, ...] = ()
    bounds: tuple[float, ...] = ()
    """the cumulative weight share that ends each variant (the last is 1)"""
    control_percent: float = 0.0
    global_control_percent: float = 0.0
    """the global control group (marketing scenarios only; 0 for transactional ones)"""

    @classmethod
    def of(
        cls,
        scenario: str,
        variants: Sequence[tuple[str, float]],
        control_percent: float,
        global_control_percent: float,
    ) -> Experiment | None:
        """The experiment of a scenario; None when it has neither variants nor control."""
        if not variants and not control_percent and not global_control_percent:
            return None
        total = sum(weight for _id, weight in variants)
        bounds = tuple(share / total for share in accumulate(w for _id, w in variants))
        return cls(
            scenario,
            tuple(vid for vid, _w in variants),
            bounds,
            control_percent,
            global_control_percent,
        )

    def assign(self, customer_id: str) -> Assignment:
        """The customer's variant and whether they are in a control group."""
        variant = None
        if self.variants:
            index = bisect_right(self.bounds, draw("variant", self.scenario, customer_id))
            variant = self.variants[min(index, len(self.variants) - 1)]
        control = (
            self.control_percent > 0
            and draw("control", self.scenario, customer_id) * 100 < self.control_percent
        ) or (
            self.global_control_percent > 0
            and draw("global_control", "", customer_id) * 100 < self.global_control_percent
        )
        return Assignment(variant, control)
