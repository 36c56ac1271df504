"""The aggregate worker through Kafka: every rule as a reply, bad input to the DLQ."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pipeline.client import CommandFactory, SyncCommandClient
from pipeline.client.commands import new_id
from pipeline.codec import encode_command
from pipeline.domain import NewMessage, RejectionReason, limits
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.replies import REPLY_PARTITION_HEADER, CommandAccepted, CommandRejected, Reply
from pipeline.settings import Settings
from tests.support.kafka import produce_raw, read_topic
from tests.support.processes import Component

pytestmark = pytest.mark.integration

R = RejectionReason
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def client(stack: object, running_worker: Component) -> Iterator[SyncCommandClient]:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    with SyncCommandClient(settings) as sync_client:
        yield sync_client


f = CommandFactory()


def accepted(reply: Reply) -> CommandAccepted:
    assert isinstance(reply, CommandAccepted), reply
    return reply


def rejected(reply: Reply, reason: RejectionReason) -> None:
    assert isinstance(reply, CommandRejected), reply
    assert reply.reason is reason, reply


def test_thread_lifecycle_through_kafka(client: SyncCommandClient) -> None:
    admin, member, other, stranger = (new_id() for _ in range(4))
    send = lambda command: client.send(command, TIMEOUT)  # noqa: E731

    create = f.create_thread(admin, "lifecycle", member_ids=[member, other])
    thread = create.thread_id
    assert accepted(send(create)).version == 1
    # A retried command id gets the original answer and changes nothing.
    assert accepted(send(create)).version == 1
    rejected(send(f.create_thread(admin, "again", thread_id=thread)), R.THREAD_ALREADY_EXISTS)
    rejected(send(f.destroy_thread(new_id(), admin)), R.THREAD_NOT_FOUND)

    rejected(send(f.join_administrators(thread, member, [member])), R.SENDER_NOT_ADMINISTRATOR)
    assert accepted(send(f.join_administrators(thread, admin, [other]))).version == 2
    rejected(send(f.leave_administrators(thread, admin, [admin, other])), R.LAST_ADMINISTRATOR)
    assert accepted(send(f.leave_administrators(thread, admin, [other]))).version == 3

    rejected(send(f.leave_members(thread, member, [other])), R.SENDER_NOT_ADMINISTRATOR)
    joined = accepted(send(f.join_members(thread, admin, [stranger, member])))
    assert joined.version == 4
    assert accepted(send(f.join_members(thread, admin, [stranger]))).version == 4  # no-op
    assert accepted(send(f.leave_members(thread, stranger, [stranger]))).version == 5

    rejected(send(f.post(thread, stranger, "hi")), R.SENDER_NOT_MEMBER)
    first = accepted(send(f.post(thread, member, "hello", to_account_ids=[admin])))
    assert len(first.message_ids) == 1
    rejected(send(f.post(thread, member, "re", reply_to=new_id())), R.REPLY_TARGET_NOT_FOUND)
    rejected(
        send(f.post(thread, member, "psst", to_account_ids=[stranger])), R.RECIPIENT_NOT_MEMBER
    )
    reply = accepted(send(f.post(thread, other, "re", reply_to=first.message_ids[0])))
    rejected(send(f.remove_messages(thread, member, reply.message_ids)), R.NOT_MESSAGE_SENDER)
    removed = accepted(send(f.remove_messages(thread, admin, reply.message_ids)))
    assert removed.message_ids == reply.message_ids
    rejected(send(f.post(thread, member, "")), R.INVALID_COMMAND)

    rejected(send(f.destroy_thread(thread, member)), R.SENDER_NOT_ADMINISTRATOR)
    destroyed = accepted(send(f.destroy_thread(thread, admin)))
    rejected(send(f.post(thread, admin, "anyone?")), R.THREAD_DESTROYED)
    assert destroyed.version == 9


def test_live_message_limit(client: SyncCommandClient) -> None:
    admin = new_id()
    create = f.create_thread(admin, "busy")
    accepted(client.send(create, TIMEOUT))
    batch = limits.MESSAGES_PER_COMMAND_MAX
    for _ in range(limits.LIVE_MESSAGES_MAX // batch):
        messages = [NewMessage(new_id(), "m") for _ in range(batch)]
        accepted(client.send(f.add_messages(create.thread_id, admin, messages), TIMEOUT))
    rejected(client.send(f.post(create.thread_id, admin, "one too many"), TIMEOUT), R.MESSAGE_LIMIT)


def test_bad_input_is_dead_lettered_and_the_partition_keeps_moving(
    client: SyncCommandClient, stack: object
) -> None:
    settings: Settings = stack.settings()  # type: ignore[attr-defined]
    bootstrap, topic = settings.bootstrap_servers, settings.topics.commands
    valid = encode_command(f.create_thread(new_id(), "template"))
    thread = new_id()
    partition = partition_for(thread, settings.partitions)
    bad = {
        "random": (os.urandom(64), "UNDECODABLE"),
        "truncated": (valid[: len(valid) - 7], "UNDECODABLE"),
        "unknown fingerprint": (valid[:2] + b"\x00" * 8 + valid[10:], "UNDECODABLE"),
    }
    for value, _reason in bad.values():
        produce_raw(bootstrap, topic, value, key=thread.encode(), partition=partition)

    # A decodable command that breaks value rules: a rejected reply AND a dead letter.
    invalid = f.create_thread(new_id(), "", thread_id=thread)
    rejected(client.send(invalid, TIMEOUT), R.INVALID_COMMAND)
    # A command on the wrong partition would give its thread a second writer.
    misrouted = f.create_thread(new_id(), "misrouted")
    wrong = (partition_for(misrouted.thread_id, settings.partitions) + 1) % settings.partitions
    misrouted_value = encode_command(misrouted)
    produce_raw(
        bootstrap,
        topic,
        misrouted_value,
        key=misrouted.thread_id.encode(),
        partition=wrong,
        headers=[(REPLY_PARTITION_HEADER, b"not-a-number")],
    )
    # Later commands on the same partition are still handled.
    later = f.create_thread(new_id(), "after the bad ones", thread_id=thread)
    assert accepted(client.send(later, TIMEOUT)).version == 1

    dead = {
        r.value: r for r in read_topic(bootstrap, settings.topics.commands_dlq, settings.partitions)
    }
    for name, (value, reason) in bad.items():
        assert value in dead, name
        assert dead[value].headers["threadweaver-dlq-reason"] == reason.encode(), name
        assert dead[value].headers["threadweaver-dlq-error"], name
        assert dead[value].headers["threadweaver-source-topic"] == topic.encode()
    invalid_record = dead[encode_command(invalid)]
    assert invalid_record.headers["threadweaver-dlq-reason"] == b"INVALID_COMMAND"
    assert b"title" in invalid_record.headers["threadweaver-dlq-error"]
    assert dead[misrouted_value].headers["threadweaver-dlq-reason"] == b"MISROUTED"
