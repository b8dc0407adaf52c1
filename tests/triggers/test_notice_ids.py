"""Notice ids: UUIDv5, the same values as the uuid module's, without its objects."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from triggers.notices import notice_id, step_notice_id, uuid5

NAMESPACE = uuid.UUID("6f0c55a2-3f0e-5a7c-9a57-5c0ad4b7e3a1")


@given(st.binary(min_size=16, max_size=16), st.text())
def test_uuid5_is_the_uuid_modules(namespace: bytes, name: str) -> None:
    assert uuid5(namespace, name) == str(uuid.uuid5(uuid.UUID(bytes=namespace), name))


def test_a_notice_id_is_the_one_it_always_was() -> None:
    expected = uuid.uuid5(NAMESPACE, "bonus_earned\x1fC1\x1fe1")
    assert notice_id("bonus_earned", "C1", "e1") == str(expected)


IDS = st.text(min_size=1, max_size=3, alphabet="a\x1f")
"""customer and event ids as the contract allows them (any text), the separator included"""
INSTANCE_STEPS = st.lists(st.tuples(IDS, IDS, st.sampled_from("ab")), min_size=2, max_size=30)
"""(customer, entry, step) of notices; step "a" is an instance's first, "b" a later one"""


@given(INSTANCE_STEPS)
def test_two_instances_or_steps_never_share_a_notice_id(
    notices: list[tuple[str, str, str]],
) -> None:
    distinct = set(notices)
    ids = {step_notice_id("x", c, entry, step, step == "a") for c, entry, step in distinct}
    assert len(ids) == len(distinct)


def test_an_event_id_with_the_separator_is_not_a_later_step() -> None:
    assert step_notice_id("x", "C1", "e", "s2", False) == notice_id("x", "C1", "e\x1fs2")
    assert step_notice_id("x", "C1", "e\x1fs2", "s1", True) != notice_id("x", "C1", "e\x1fs2")
