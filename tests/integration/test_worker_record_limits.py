"""Records at the size limits do not stop the worker (found by tests/fuzz): a command whose
ids are huge got a reply larger than a Kafka record, and a record a client could just write
got a dead letter larger than one; either failed to produce, and the worker stopped on the
same record after every restart."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pipeline.client import SyncCommandClient
from pipeline.client.commands import CommandFactory, new_id
from pipeline.codec import CodecError, decode_reply, encode_command
from pipeline.domain import NewMessage, RejectionReason, limits
from pipeline.kafka.dead_letters import (
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from pipeline.kafka.partitioner import partition_for
from pipeline.kafka.replies import CommandAccepted, CommandRejected, Reply
from pipeline.settings import Settings
from pipeline.worker.handling import shown
from tests.fuzz.broker import Outgoing, end_offsets, produce_all, read_since
from tests.support.kafka import thread_in
from tests.support.processes import Component

pytestmark = pytest.mark.integration

TIMEOUT = 60.0
# librdkafka's default message.max.bytes bounds key + value + headers + 36 bytes of framing.
CLIENT_RECORD_MAX = 1_000_000
FRAMING = 36
f = CommandFactory()


def test_huge_ids_and_records_at_the_limit_are_dead_lettered(
    stack: Any, running_worker: Component
) -> None:
    settings: Settings = stack.settings()
    bootstrap, topics, partitions = settings.bootstrap_servers, settings.topics, settings.partitions
    template = f.create_thread(new_id(), "limits")
    huge_ids = replace(template, command_id="c" * 450_000, thread_id="t" * 450_000)
    huge_thread = replace(template, command_id=new_id(), thread_id="m" * 450_000)
    right = partition_for(huge_ids.thread_id, partitions)
    wrong = (partition_for(huge_thread.thread_id, partitions) + 1) % partitions
    at_limit = b"\xc3\x01" + b"\x00" * (CLIENT_RECORD_MAX - FRAMING - 26 - 2)
    records = {
        "INVALID_COMMAND": Outgoing(encode_command(huge_ids), None, right),
        "MISROUTED": Outgoing(encode_command(huge_thread), None, wrong),
        "UNDECODABLE": Outgoing(at_limit, new_id().encode(), 0),
    }
    since = {
        t: end_offsets(bootstrap, t, partitions) for t in (topics.replies, topics.commands_dlq)
    }
    delivered = produce_all(bootstrap, topics.commands, list(records.values()))
    placed = dict(zip(records, delivered, strict=True))

    with SyncCommandClient(settings) as client:
        for partition in range(partitions):
            thread = thread_in(partition, partitions)
            reply = client.send(f.create_thread(new_id(), "after", thread_id=thread), TIMEOUT)
            assert isinstance(reply, CommandAccepted), reply
    assert running_worker.alive(), running_worker.log_tail()

    topic_h, partition_h, offset_h = (
        SOURCE_TOPIC_HEADER,
        SOURCE_PARTITION_HEADER,
        SOURCE_OFFSET_HEADER,
    )
    dead = {
        (int(r.headers[partition_h]), int(r.headers[offset_h])): r
        for r in read_since(bootstrap, topics.commands_dlq, partitions, since[topics.commands_dlq])
        if r.headers.get(topic_h) == topics.commands.encode()
    }
    for reason, where in placed.items():
        assert dead[where].headers[REASON_HEADER] == reason.encode()
        assert dead[where].value == records[reason].value

    replies: dict[str, Reply] = {}
    for record in read_since(bootstrap, topics.replies, partitions, since[topics.replies]):
        try:
            reply = decode_reply(record.value)
        except CodecError:
            continue
        replies[reply.command_id] = reply
    for command in (huge_ids, huge_thread):
        reply = replies[shown(command.command_id)]
        assert isinstance(reply, CommandRejected), reply
        assert reply.reason is RejectionReason.INVALID_COMMAND
        assert reply.thread_id == shown(command.thread_id)


def test_the_largest_command_the_domain_accepts_is_appended_and_fits_a_dynamodb_item(
    stack: Any, running_worker: Component
) -> None:
    """An accepted command's event is larger than the command; the domain's bounds (texts in
    bytes, recipients, messages per command) must keep it appendable to Kafka and mirrorable
    to DynamoDB (400 KB items), or an accepted command would stop a partition later."""
    settings: Settings = stack.settings()
    bootstrap, topics, partitions = settings.bootstrap_servers, settings.topics, settings.partitions
    admin, members = new_id(), [new_id() for _ in range(limits.ACCOUNT_IDS_PER_COMMAND_MAX)]
    count = limits.MESSAGES_PER_COMMAND_MAX
    per_message = limits.RECIPIENTS_PER_COMMAND_MAX // count
    # 4-byte characters: the most UTF-8 bytes per character the texts' budget allows.
    text = "\U0001f600" * min(limits.TEXT_MAX, limits.MESSAGES_TEXT_BYTES_MAX // (4 * count))
    with SyncCommandClient(settings) as client:
        create = f.create_thread(admin, "crowded", member_ids=members)
        assert isinstance(client.send(create, TIMEOUT), CommandAccepted)
        thread = create.thread_id
        messages = [
            NewMessage(
                new_id(), text, None, tuple(members[i * per_message : (i + 1) * per_message])
            )
            for i in range(count)
        ]
        since = end_offsets(bootstrap, topics.events, partitions)
        largest = client.send(f.add_messages(thread, admin, messages), TIMEOUT)
        assert isinstance(largest, CommandAccepted), largest
        assert largest.version == 2
        after = client.send(f.post(thread, admin, "after"), TIMEOUT)
    assert isinstance(after, CommandAccepted), after
    assert after.version == 3
    assert running_worker.alive(), running_worker.log_tail()
    appended = [
        r.value
        for r in read_since(bootstrap, topics.events, partitions, since)
        if r.key == thread.encode()
    ]
    biggest = max(len(value) for value in appended)
    assert biggest > limits.MESSAGES_TEXT_BYTES_MAX  # the texts really are in it
    # DynamoDB's item limit is 400 KB, attribute names and metadata included (ADR 0005).
    assert biggest < 350_000, biggest
