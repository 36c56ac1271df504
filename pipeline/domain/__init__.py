"""The pure Thread domain: commands, events, rules. Standard library only (no I/O, clock,
randomness); the import contract in pyproject.toml and tests/unit/domain/test_purity.py
enforce it."""

from pipeline.domain.commands import (
    AddMessages,
    Command,
    CommandBody,
    CreateThread,
    DestroyThread,
    JoinAdministratorIds,
    JoinMemberIds,
    LeaveAdministratorIds,
    LeaveMemberIds,
    NewMessage,
    RemoveMessages,
)
from pipeline.domain.decide import Accepted, Decision, DecisionContext, decide
from pipeline.domain.events import (
    AddedMessage,
    AdministratorIdsJoined,
    AdministratorIdsLeft,
    Event,
    EventBody,
    MemberIdsJoined,
    MemberIdsLeft,
    MessagesAdded,
    MessagesRemoved,
    ThreadCreated,
    ThreadDestroyed,
)
from pipeline.domain.evolve import evolve, replay
from pipeline.domain.rejections import Rejected, RejectionReason
from pipeline.domain.state import AcceptedOutcome, Thread, ThreadState
from pipeline.domain.validation import Problem, validate_command

__all__ = [
    "Accepted",
    "AcceptedOutcome",
    "AddMessages",
    "AddedMessage",
    "AdministratorIdsJoined",
    "AdministratorIdsLeft",
    "Command",
    "CommandBody",
    "CreateThread",
    "Decision",
    "DecisionContext",
    "DestroyThread",
    "Event",
    "EventBody",
    "JoinAdministratorIds",
    "JoinMemberIds",
    "LeaveAdministratorIds",
    "LeaveMemberIds",
    "MemberIdsJoined",
    "MemberIdsLeft",
    "MessagesAdded",
    "MessagesRemoved",
    "NewMessage",
    "Problem",
    "Rejected",
    "RejectionReason",
    "RemoveMessages",
    "Thread",
    "ThreadCreated",
    "ThreadDestroyed",
    "ThreadState",
    "decide",
    "evolve",
    "replay",
    "validate_command",
]
