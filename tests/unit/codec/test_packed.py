"""Packed ULID lists: only whole lists of 26-character ASCII ids pack, and unpack in order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.codec.packed import pack, unpack

pytestmark = pytest.mark.unit

ULID = st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26)


@given(st.lists(ULID, max_size=50))
def test_ulids_pack_and_unpack_in_order(ids: list[str]) -> None:
    packed = pack(ids)
    assert packed is not None
    assert len(packed) == 26 * len(ids)
    assert unpack(packed) == ids


@pytest.mark.parametrize(
    "ids",
    [
        ["short"],
        ["0" * 25, "0" * 27],  # the right total length, not the right ids
        ["0" * 25 + "É"],
    ],
    ids=["short", "lengths-that-add-up", "not-ascii"],
)
def test_other_ids_do_not_pack(ids: list[str]) -> None:
    assert pack(ids) is None


def test_a_length_that_is_not_whole_ids_does_not_unpack() -> None:
    with pytest.raises(ValueError, match="multiple of 26"):
        unpack("0" * 27)
