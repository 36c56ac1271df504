"""The pure SQL builders: placeholders match arguments, pages ask for one extra row, and the
visibility and liveness filters are present."""

from __future__ import annotations

import re

import pytest

from api import sql
from tests.support.builders import ALICE, THREAD, ulid

pytestmark = pytest.mark.unit

AFTER = ulid(7)
PAGED = [sql.administrator_page, sql.member_page, sql.message_page]


def placeholders(query: sql.Query) -> set[int]:
    return {int(n) for n in re.findall(r"\$(\d+)", query.sql)}


def all_queries() -> list[sql.Query]:
    return [
        sql.thread_view(THREAD, ALICE),
        sql.thread_page(ALICE, AFTER, 10),
        sql.thread_version(THREAD),
        sql.ping(),
        *(build(THREAD, ALICE, AFTER, 10) for build in PAGED),
    ]


@pytest.mark.parametrize("query", all_queries(), ids=lambda q: q.sql.split()[1][:20])
def test_every_placeholder_has_an_argument(query: sql.Query) -> None:
    assert placeholders(query) == set(range(1, len(query.args) + 1))


@pytest.mark.parametrize("build", PAGED)
def test_thread_scoped_pages(build: type) -> None:
    query = build(THREAD, ALICE, AFTER, 10)  # type: ignore[operator]
    assert query.args == (THREAD, ALICE, AFTER, 11)  # one extra row: "is there more?"
    text = " ".join(query.sql.split())
    assert "t.destroyed_at IS NULL" in text
    assert "thread_administrators" in text
    assert "thread_members" in text
    assert "WHERE target.visible AND" in text
    assert "LIMIT $4" in text
    assert "ORDER BY page.key" in text


@pytest.mark.parametrize("build", PAGED)
def test_first_page_starts_before_every_ulid(build: type) -> None:
    query = build(THREAD, ALICE, None, 50)  # type: ignore[operator]
    assert query.args[2] == sql.START
    assert all(ulid(n) > sql.START for n in (0, 1, 2**70))


def test_messages_exclude_removed_ones_in_id_order() -> None:
    text = " ".join(sql.message_page(THREAD, ALICE, None, 5).sql.split())
    assert "m.removed_at IS NULL" in text
    assert "ORDER BY m.id" in text
    for column in ("reply_message_id", "to_account_ids", "sender_id", "created_at"):
        assert column in text


def test_thread_list_excludes_destroyed_threads_in_id_order() -> None:
    query = sql.thread_page(ALICE, None, 50)
    assert query.args == (ALICE, sql.START, 51)
    text = " ".join(query.sql.split())
    assert "t.destroyed_at IS NULL" in text
    assert "ORDER BY t.id LIMIT $3" in text


def test_thread_view_returns_visibility() -> None:
    query = sql.thread_view(THREAD, ALICE)
    assert query.args == (THREAD, ALICE)
    assert "AS visible" in query.sql
