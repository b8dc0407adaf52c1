"""The delivery policy on the way out: consent, quiet hours, caps, cascade order.

`decide` turns a candidate notice due at a moment into one of: emit it over these
channels, hold it to the end of quiet hours, or suppress it (with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.caps import over_cap
from channels.quiet_hours import quiet_release
from channels.templates import TemplateSet
from smartcomms.config import CapSettings, QuietHours, Settings
from triggers.customer import CustomerState
from triggers.notices import Candidate, Decision, Emit, Hold, Suppress
from triggers.scenarios.program import compile_program

NO_CHANNEL = "unreachable_no_channel"
NO_CONSENT = "unreachable_no_consent"
CAPPED = "capped"


@dataclass(frozen=True)
class Policy:
    """What the engine needs of the configuration to route notices."""

    order: tuple[str, ...]
    default_timezone: str = "Europe/Moscow"
    caps: CapSettings = field(default_factory=CapSettings)
    quiet: QuietHours = field(default_factory=QuietHours)
    templates: TemplateSet = field(default_factory=lambda: TemplateSet.with_overrides({}))

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy of ``settings``, every scenario's templates checked: ConfigError
        naming scenario, step and field (at start, not at send time)."""
        templates = TemplateSet.with_overrides(settings.templates)
        templates.check_program(compile_program(settings.scenarios, templates.variables))
        return cls(
            settings.channels.order,
            settings.engine.default_timezone,
            settings.caps,
            settings.quiet_hours,
            templates,
        )


def cascade(kind: str, state: CustomerState, order: Sequence[str]) -> list[str]:
    """Channels to try, cheapest first: those with a contact and, for marketing, a consent."""
    reachable = state.reachable_channels()
    if kind == "marketing":
        return [c for c in order if c in reachable and state.consents.get(c) is True]
    return [c for c in order if c in reachable]


def decide(candidate: Candidate, state: CustomerState, due: float, policy: Policy) -> Decision:
    """Route a candidate falling due at ``due`` (event time, epoch s)."""
    order = candidate.channels or policy.order  # the step's own cascade, or the global one
    if candidate.kind == "transactional":  # exempt from caps and quiet hours
        channels = cascade("transactional", state, order)
        return Emit(channels) if channels else Suppress(NO_CHANNEL)
    quiet = policy.quiet
    if quiet.enabled:
        release = quiet_release(
            due, state.timezone or policy.default_timezone, quiet.start, quiet.end
        )
        if release is not None:
            return Hold(release)
    channels = cascade("marketing", state, order)
    if not channels:
        has_contact = bool(cascade("transactional", state, order))
        return Suppress(NO_CONSENT if has_contact else NO_CHANNEL)
    caps = policy.caps
    trigger_cap = caps.per_trigger.get(candidate.trigger)
    if over_cap(state.sent, due, caps.marketing) or (
        trigger_cap is not None and over_cap(state.sent, due, trigger_cap, candidate.trigger)
    ):
        return Suppress(CAPPED)
    channels = [
        c
        for c in channels
        if c not in caps.per_channel or not over_cap(state.sent, due, caps.per_channel[c], None, c)
    ]
    return Emit(channels) if channels else Suppress(CAPPED)


def build_notice(
    candidate: Candidate, channels: list[str], created_at: str, templates: TemplateSet
) -> dict[str, Any]:
    """The contract's notice for a candidate routed to ``channels`` (non-empty)."""
    notice = {
        "notice_id": candidate.notice_id,
        "trigger": candidate.trigger,
        "kind": candidate.kind,
        "customer_id": candidate.customer_id,
        "channels": channels,
        "template": candidate.template,
        "vars": candidate.vars,
        "text": templates.text(candidate.template, channels[0], candidate.vars),
        "caused_by": candidate.caused_by,
        "event_ts": candidate.event_ts,
        "due_ts": candidate.due_ts,
        "created_at": created_at,
        "step": candidate.step,
    }
    if candidate.variant is not None:
        notice["variant"] = candidate.variant
    return notice
