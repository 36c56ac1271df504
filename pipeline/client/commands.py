"""Build commands with fresh ULIDs (the client side generates ids; the domain never does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ulid import ULID

from pipeline.domain import Command, CommandBody, NewMessage, commands


def new_id() -> str:
    return str(ULID())


def _now_ms() -> datetime:
    now = datetime.now(tz=UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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

    def join_administrators(
        self,
        thread_id: str,
        sender_id: str,
        account_ids: Sequence[str],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.JoinAdministratorIds(tuple(account_ids)), command_id
        )

    def leave_administrators(
        self,
        thread_id: str,
        sender_id: str,
        account_ids: Sequence[str],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.LeaveAdministratorIds(tuple(account_ids)), command_id
        )

    def join_members(
        self,
        thread_id: str,
        sender_id: str,
        account_ids: Sequence[str],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.JoinMemberIds(tuple(account_ids)), command_id
        )

    def leave_members(
        self,
        thread_id: str,
        sender_id: str,
        account_ids: Sequence[str],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.LeaveMemberIds(tuple(account_ids)), command_id
        )

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

    def add_messages(
        self,
        thread_id: str,
        sender_id: str,
        messages: Sequence[NewMessage],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.AddMessages(tuple(messages)), command_id
        )

    def remove_messages(
        self,
        thread_id: str,
        sender_id: str,
        message_ids: Sequence[str],
        command_id: str | None = None,
    ) -> Command:
        return self.envelope(
            thread_id, sender_id, commands.RemoveMessages(tuple(message_ids)), command_id
        )
