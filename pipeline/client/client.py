"""Produce commands and await their replies.

Reply routing (docs/adr/0003-reply-routing.md): each client instance listens to ONE
partition of the replies topic, chosen at random when it starts, and names it in the
`threadweaver-reply-partition` header of every command it produces; the worker sends the
reply there. A client therefore reads about 1/P of the reply traffic whatever the number
of callers, and more reply partitions spread it further.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from pipeline.codec import CodecError, decode_reply, encode_command
from pipeline.domain import Command
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.producer import AsyncProducer, OutgoingRecord
from pipeline.kafka.replies import REPLY_PARTITION_HEADER, Reply
from pipeline.kafka.scanner import PartitionTail
from pipeline.settings import Settings

T = TypeVar("T")
# The replies consumer only assign()s and never commits; named in the API's KafkaUser ACLs.
REPLIES_GROUP = "threadweaver-client"


class ReplyTimeoutError(Exception):
    """No reply in time. Retrying with the same command id is safe (idempotent)."""

    def __init__(self, command_id: str, timeout: float) -> None:
        super().__init__(f"no reply to command {command_id} within {timeout}s")
        self.command_id = command_id


class CommandClient:
    def __init__(self, settings: Settings, *, reply_partition: int | None = None) -> None:
        self._settings = settings
        self._reply_partition = (
            random.randrange(settings.partitions) if reply_partition is None else reply_partition
        )
        self._producer: AsyncProducer | None = None
        self._tail: PartitionTail | None = None
        self._waiters: dict[str, asyncio.Future[Reply]] = {}
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def reply_partition(self) -> int:
        return self._reply_partition

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        topic = self._settings.topics.replies
        connection = self._settings.kafka
        # Start exactly at the end: every reply to a command sent after start() is read, none
        # before it is.
        end = await asyncio.to_thread(end_offsets, connection, topic, [self._reply_partition])
        self._tail = PartitionTail(
            connection,
            topic,
            self._reply_partition,
            end[self._reply_partition],
            group_id=REPLIES_GROUP,
        )
        self._producer = AsyncProducer(connection, client_id="threadweaver-client")
        self._listener = threading.Thread(target=self._listen, name="replies", daemon=True)
        self._listener.start()

    async def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5.0)
        if self._tail is not None:
            self._tail.close()
        if self._producer is not None:
            self._producer.close()

    async def __aenter__(self) -> CommandClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _listen(self) -> None:
        assert self._tail is not None
        assert self._loop is not None
        while not self._stop.is_set():
            for record in self._tail.poll(0.1):
                try:
                    reply = decode_reply(record.value)
                except CodecError:
                    continue
                self._loop.call_soon_threadsafe(self._resolve, reply)

    def _resolve(self, reply: Reply) -> None:
        future = self._waiters.get(reply.command_id)
        if future is not None and not future.done():
            future.set_result(reply)

    def _record(self, command: Command) -> OutgoingRecord:
        return OutgoingRecord(
            self._settings.topics.commands,
            encode_command(command),
            key=command.thread_id.encode(),
            headers=[(REPLY_PARTITION_HEADER, str(self._reply_partition).encode())],
        )

    def _started(self) -> AsyncProducer:
        if self._producer is None:
            raise RuntimeError("CommandClient.start() was not called")
        return self._producer

    async def send(self, command: Command, timeout: float = 10.0) -> Reply:
        """Produce `command` and return its reply; raise ReplyTimeoutError after `timeout`."""
        producer = self._started()
        loop = asyncio.get_running_loop()
        future = self._waiters.setdefault(command.command_id, loop.create_future())
        try:
            record = self._record(command)
            delivery = producer.send(
                record.topic, record.value, key=record.key, headers=record.headers
            )
            async with asyncio.timeout(timeout):
                await delivery
                return await asyncio.shield(future)
        except TimeoutError as exc:
            raise ReplyTimeoutError(command.command_id, timeout) from exc
        finally:
            self._waiters.pop(command.command_id, None)

    async def produce(self, commands: Sequence[Command]) -> None:
        """Produce `commands` in order without waiting for their replies (a backlog for
        workers that are not running yet); returns once the broker has them all."""
        await self._started().send_all([self._record(command) for command in commands])


class SyncCommandClient:
    """The same client for synchronous code: it runs its own event loop in a thread."""

    def __init__(self, settings: Settings, *, reply_partition: int | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = CommandClient(settings, reply_partition=reply_partition)
        self._run(self._client.start())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def send(self, command: Command, timeout: float = 10.0) -> Reply:
        return self._run(self._client.send(command, timeout))

    def close(self) -> None:
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)

    def __enter__(self) -> SyncCommandClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
