"""`smartcomms profile`'s view of a state, read at a given time."""

from __future__ import annotations

from state.inspect import describe_state
from triggers.customer import DAY, CustomerState, record_purchase

NOW = 1_795_000_000.0


def test_windows_and_the_cap_week_are_read_at_the_time_given() -> None:
    state = CustomerState()
    record_purchase(state, 500.0, [], NOW - 40 * DAY, 1)
    record_purchase(state, 200.0, [], NOW - 10 * DAY, 1)
    state.sent = [[NOW - 7 * DAY, "win_back", ["sms"]], [NOW - DAY, "abandoned_cart", ["push"]]]
    view = describe_state("C1", state, NOW)
    assert view["purchases"] == {
        "30d": {"count": 1, "spend": 200.0},
        "90d": {"count": 2, "spend": 700.0},
        "365d": {"count": 2, "spend": 700.0},
    }
    assert [trigger for _at, trigger, _channels in view["marketing_sent_7d"]] == ["abandoned_cart"]
    later = describe_state("C1", state, NOW + 25 * DAY)
    assert (later["purchases"]["30d"]["count"], later["purchases"]["90d"]["count"]) == (0, 2)
    assert later["marketing_sent_7d"] == []
