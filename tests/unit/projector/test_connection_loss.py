"""Which failures the projector waits out (the database went away) and which end it."""

from __future__ import annotations

import asyncpg
import pytest

from pipeline.projector.database import is_connection_loss

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in"),
    ],
    ids=type,
)
def test_a_lost_or_restarting_database_is_waited_out(exc: BaseException) -> None:
    assert is_connection_loss(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UndefinedTableError('relation "threads" does not exist'),
        asyncpg.DataError("invalid byte sequence"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("a bug"),
    ],
    ids=type,
)
def test_anything_else_ends_the_projector(exc: BaseException) -> None:
    assert not is_connection_loss(exc)
