from __future__ import annotations

from triggers import decisions
from triggers.customer import DAY, CustomerState


def test_the_log_keeps_the_newest_decisions_within_count_and_age() -> None:
    state = CustomerState()
    for n in range(decisions.KEEP + 5):
        decisions.record(state, 1000.0 + n, "bonus_earned", decisions.EMITTED, f"n{n}", ["sms"])
    kept = decisions.entries(state)
    assert len(kept) == decisions.KEEP
    assert kept[0][3] == "n5" and kept[-1][3] == f"n{decisions.KEEP + 4}"
    decisions.record(state, 1000.0 + 31 * DAY, "win_back", decisions.SUPPRESSED, None, "capped")
    assert [entry[1] for entry in decisions.entries(state)] == ["win_back"]  # the rest aged out


def test_recent_reads_newest_first_with_what_each_outcome_needs() -> None:
    state = CustomerState()
    decisions.record(state, 0.0, "abandoned_cart", decisions.HELD, None, 3600.0)
    decisions.record(state, 3600.0, "abandoned_cart", decisions.EMITTED, "n1", ["push"])
    decisions.record(state, 7200.0, "win_back", decisions.SUPPRESSED, "n2", "capped")
    assert decisions.recent(state) == [
        {
            "at": "1970-01-01T02:00:00.000+00:00",
            "trigger": "win_back",
            "outcome": "suppressed",
            "notice_id": "n2",
            "reason": "capped",
        },
        {
            "at": "1970-01-01T01:00:00.000+00:00",
            "trigger": "abandoned_cart",
            "outcome": "emitted",
            "notice_id": "n1",
            "channels": ["push"],
        },
        {
            "at": "1970-01-01T00:00:00.000+00:00",
            "trigger": "abandoned_cart",
            "outcome": "held",
            "until": "1970-01-01T01:00:00.000+00:00",
        },
    ]
