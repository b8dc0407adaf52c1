"""Notice ids: UUIDv5, the same values as the uuid module's, without its objects."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from triggers.notices import notice_id, uuid5

NAMESPACE = uuid.UUID("6f0c55a2-3f0e-5a7c-9a57-5c0ad4b7e3a1")


@given(st.binary(min_size=16, max_size=16), st.text())
def test_uuid5_is_the_uuid_modules(namespace: bytes, name: str) -> None:
    assert uuid5(namespace, name) == str(uuid.uuid5(uuid.UUID(bytes=namespace), name))


def test_a_notice_id_is_the_one_it_always_was() -> None:
    expected = uuid.uuid5(NAMESPACE, "bonus_earned\x1fC1\x1fe1")
    assert notice_id("bonus_earned", "C1", "e1") == str(expected)
