"""The read-model queries, as pure builders returning (sql, args): no I/O, unit-testable.

Visibility (docs/adr/0007-http-api.md, Queries): a thread is visible to an account iff the
thread is not destroyed and the account is one of its administrators or members.
Thread-scoped queries compute visibility, the thread's version and the page in ONE
statement, so all three come from the same snapshot (a member removed between two statements
cannot read a page) and a request costs one round trip.

Pages are keyset pages in id order (ULIDs: a total order; the database uses C collation, so
text order is byte order). Each builder asks for `limit + 1` rows: the extra row, if any,
says that a next page exists and is not returned.
"""

from __future__ import annotations

from typing import NamedTuple


class Query(NamedTuple):
    sql: str
    args: tuple[object, ...]


# Sorts before every ULID: "no cursor" is "after the empty string".
START = ""

THREAD_COLUMNS = (
    "t.id, t.creator_id, t.parent_thread_id, t.title, t.remarks, t.created_at, t.updated_at, "
    "t.version"
)

# $1 = thread id, $2 = account id (in every thread-scoped statement).
_VISIBLE = """(
    t.destroyed_at IS NULL AND (
        EXISTS (SELECT 1 FROM thread_administrators va
                WHERE va.thread_id = t.id AND va.account_id = $2)
        OR EXISTS (SELECT 1 FROM thread_members vm
                   WHERE vm.thread_id = t.id AND vm.account_id = $2)
    )
)"""


def thread_view(thread_id: str, account_id: str) -> Query:
    """One row (the thread, its version, `visible`) or none when the thread does not exist."""
    sql = f"""
SELECT {THREAD_COLUMNS}, {_VISIBLE} AS visible
FROM threads t
WHERE t.id = $1
"""
    return Query(sql, (thread_id, account_id))


def _scoped_page(page: str) -> str:
    """Wrap a page subquery (using $1, $3 = after, $4 = rows) in the visibility check.

    Rows: none when the thread does not exist; else every row carries `version` and
    `visible`, and the page columns are NULL in the single row of an empty (or invisible)
    page.
    """
    return f"""
WITH target AS (
    SELECT t.version, {_VISIBLE} AS visible
    FROM threads t
    WHERE t.id = $1
)
SELECT target.version, target.visible, page.*
FROM target
LEFT JOIN LATERAL ({page}) AS page ON true
ORDER BY page.key
"""


def _page_args(
    thread_id: str, account_id: str, after: str | None, limit: int
) -> tuple[object, ...]:
    return (thread_id, account_id, after or START, limit + 1)


def administrator_page(thread_id: str, account_id: str, after: str | None, limit: int) -> Query:
    page = """
    SELECT a.account_id AS key
    FROM thread_administrators a
    WHERE target.visible AND a.thread_id = $1 AND a.account_id > $3
    ORDER BY a.account_id
    LIMIT $4
"""
    return Query(_scoped_page(page), _page_args(thread_id, account_id, after, limit))


def member_page(thread_id: str, account_id: str, after: str | None, limit: int) -> Query:
    page = """
    SELECT m.account_id AS key
    FROM thread_members m
    WHERE target.visible AND m.thread_id = $1 AND m.account_id > $3
    ORDER BY m.account_id
    LIMIT $4
"""
    return Query(_scoped_page(page), _page_args(thread_id, account_id, after, limit))


def message_page(thread_id: str, account_id: str, after: str | None, limit: int) -> Query:
    # `removed_at IS NULL` matches the partial index messages_live_idx.
    page = """
    SELECT m.id AS key, m.sender_id, m.text, m.reply_message_id, m.to_account_ids,
           m.created_at
    FROM messages m
    WHERE target.visible AND m.thread_id = $1 AND m.removed_at IS NULL AND m.id > $3
    ORDER BY m.id
    LIMIT $4
"""
    return Query(_scoped_page(page), _page_args(thread_id, account_id, after, limit))


def thread_page(account_id: str, after: str | None, limit: int) -> Query:
    """Threads the account administers or is a member of, not destroyed, in id order."""
    sql = f"""
SELECT {THREAD_COLUMNS}
FROM threads t
WHERE t.destroyed_at IS NULL
  AND t.id > $2
  AND t.id IN (
      SELECT a.thread_id FROM thread_administrators a
      WHERE a.account_id = $1 AND a.thread_id > $2
      UNION ALL
      SELECT m.thread_id FROM thread_members m
      WHERE m.account_id = $1 AND m.thread_id > $2
  )
ORDER BY t.id
LIMIT $3
"""
    return Query(sql, (account_id, after or START, limit + 1))


def thread_version(thread_id: str) -> Query:
    """The projected version of a thread (no row: not projected yet); polled by min_version."""
    return Query("SELECT t.version FROM threads t WHERE t.id = $1", (thread_id,))


def ping() -> Query:
    return Query("SELECT 1", ())
