"""Why a command is rejected: one enum of reasons, and the rejection value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectionReason(StrEnum):
    THREAD_NOT_FOUND = "THREAD_NOT_FOUND"
    THREAD_ALREADY_EXISTS = "THREAD_ALREADY_EXISTS"
    THREAD_DESTROYED = "THREAD_DESTROYED"
    SENDER_NOT_ADMINISTRATOR = "SENDER_NOT_ADMINISTRATOR"
    SENDER_NOT_MEMBER = "SENDER_NOT_MEMBER"
    LAST_ADMINISTRATOR = "LAST_ADMINISTRATOR"
    MESSAGE_LIMIT = "MESSAGE_LIMIT"
    NOT_MESSAGE_SENDER = "NOT_MESSAGE_SENDER"
    REPLY_TARGET_NOT_FOUND = "REPLY_TARGET_NOT_FOUND"
    RECIPIENT_NOT_MEMBER = "RECIPIENT_NOT_MEMBER"
    INVALID_COMMAND = "INVALID_COMMAND"


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectionReason
    message: str
