"""The load generator's mix models each thread as its commands will have made it, without
waiting for replies: every command it means to be valid is accepted in partition order, and
the others are rejected for the reasons it means (a stranger posting, a member removing
someone else's message)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pipeline.client.loadgen import REMOVE, STRANGER, Mix, Shares
from tests.support.mix import drive

pytestmark = pytest.mark.unit


def test_the_default_mix_is_rejected_only_where_it_means_to_be() -> None:
    kinds, rejected = drive(Mix(random.Random(4)), threads=30, commands=6_000)
    assert set(kinds) == {"post", "join", "leave", "remove", "stranger"}
    assert set(rejected) == {
        f"{STRANGER} SENDER_NOT_MEMBER",
        f"{REMOVE} NOT_MESSAGE_SENDER",
    }
    assert rejected[f"{STRANGER} SENDER_NOT_MEMBER"] == kinds[STRANGER]
    assert rejected[f"{REMOVE} NOT_MESSAGE_SENDER"] < 0.2 * kinds[REMOVE]


def test_a_mix_without_rejections_is_all_accepted() -> None:
    valid = Shares(stranger=0.0, other_remover=0.0)
    kinds, rejected = drive(Mix(random.Random(5), shares=valid), threads=20, commands=4_000)
    assert rejected == Counter()
    assert STRANGER not in kinds


def test_shares_must_leave_room_for_posts() -> None:
    with pytest.raises(ValueError, match="no room for posts"):
        Shares(join=0.5, leave=0.3, remove=0.3)
