"""Build commands with fresh ULIDs (the client side generates ids; the domain never does)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Concatenate, Generic, ParamSpec, TypeVar, overload

from ulid import ULID

from pipeline.domain import Command, CommandBody, NewMessage, commands

_T = TypeVar("_T")
_P = ParamSpec("_P")


def new_id() -> str:
    return str(ULID())


def _now_ms() -> datetime:
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Listing(Generic[_T, _P]):
    """A method of `CommandFactory` whose command body is built from one list (ids, messages):
    `build` holds the one signature, `body` the command; the method keeps `build`'s parameters
    (names, defaults) for mypy, bound to an instance or called on the class."""

    def __init__(
        self,
        build: Callable[
            Concatenate[CommandFactory, Callable[[tuple[_T, ...]], CommandBody], _P], Command
        ],
        body: Callable[[tuple[_T, ...]], CommandBody],
    ) -> None:
        self._build = build
        self._body = body

    @overload
    def __get__(
        self, factory: None, owner: type[CommandFactory]
    ) -> Callable[Concatenate[CommandFactory, _P], Command]: ...

    @overload
    def __get__(
        self, factory: CommandFactory, owner: type[CommandFactory]
    ) -> Callable[_P, Command]: ...

    def __get__(
        self, factory: CommandFactory | None, owner: type[CommandFactory]
    ) -> Callable[..., Command]:
        if factory is None:
            return self._unbound
        return functools.partial(self._build, factory, self._body)

    def _unbound(self, factory: CommandFactory, *args: _P.args, **kwargs: _P.kwargs) -> Command:
        return self._build(factory, self._body, *args, **kwargs)


class CommandFactory:
    """One method per command; `command_id` may be given to retry a command idempotently."""

    @staticmethod
    def envelope(
        thread_id: str, sender_id: str, body: CommandBody, command_id: str | None = None
    ) -> Command:
        return Command(
            command_id=command_id or new_id(),
            thread_id=thread_id,
            sender_id=sender_id,
            # Milliseconds: the wire precision, so a decoded command equals the one sent.
            requested_at=_now_ms(),
            body=body,
        )

    def create_thread(
        self,
        sender_id: str,
        title: str,
        *,
        administrator_ids: Sequence[str] = (),
        member_ids: Sequence[str] = (),
        parent_thread_id: str | None = None,
        remarks: str | None = None,
        thread_id: str | None = None,
        command_id: str | None = None,
    ) -> Command:
        body = commands.CreateThread(
            title=title,
            administrator_ids=tuple(administrator_ids),
            member_ids=tuple(member_ids),
            parent_thread_id=parent_thread_id,
            remarks=remarks,
        )
        return self.envelope(thread_id or new_id(), sender_id, body, command_id)

    def destroy_thread(
        self, thread_id: str, sender_id: str, command_id: str | None = None
    ) -> Command:
        return self.envelope(thread_id, sender_id, commands.DestroyThread(), command_id)

    def _listed(
        self,
        body: Callable[[tuple[_T, ...]], CommandBody],
        thread_id: str,
        sender_id: str,
        items: Sequence[_T],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(thread_id, sender_id, body(tuple(items)), command_id)

    def post(
        self,
        thread_id: str,
        sender_id: str,
        text: str,
        *,
        reply_to: str | None = None,
        to_account_ids: Sequence[str] = (),
        message_id: str | None = None,
        command_id: str | None = None,
    ) -> Command:
        message = NewMessage(message_id or new_id(), text, reply_to, tuple(to_account_ids))
        return self.envelope(thread_id, sender_id, commands.AddMessages((message,)), command_id)

    # The commands whose body is only the list they are given share one signature.
    join_administrators = _Listing(_listed, commands.JoinAdministratorIds)
    leave_administrators = _Listing(_listed, commands.LeaveAdministratorIds)
    join_members = _Listing(_listed, commands.JoinMemberIds)
    leave_members = _Listing(_listed, commands.LeaveMemberIds)
    add_messages = _Listing(_listed, commands.AddMessages)
    remove_messages = _Listing(_listed, commands.RemoveMessages)
