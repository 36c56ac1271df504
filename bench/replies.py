"""Reading every reply partition from its current end, on a thread of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from bench.kafka import consumer_conf, end_offsets
from pipeline.codec import CodecError, decode_reply
from pipeline.kafka.replies import Reply

OnReply = Callable[[Reply, float], None]


class ReplyListener:
    """Calls `on_reply(reply, arrived)` (arrived: time.perf_counter() when the batch holding
    the reply came out of the consumer) for every reply produced after `start()`."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, on_reply: OnReply) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._partitions = partitions
        self._on_reply = on_reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replies", daemon=True)
        self._consumer: Consumer | None = None

    def start(self) -> None:
        ends = end_offsets(self._bootstrap, self._topic, self._partitions)
        consumer = Consumer(consumer_conf(self._bootstrap, f"bench-replies-{uuid.uuid4()}"))
        consumer.assign([TopicPartition(self._topic, p, o) for p, o in sorted(ends.items())])
        self._consumer = consumer
        self._thread.start()

    def _run(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            # consume(n, timeout) waits for n records or the timeout, whichever comes first:
            # block for one record only, then take what has already arrived.
            messages = self._consumer.consume(1, 0.05)
            if messages:
                messages += self._consumer.consume(999, 0)
            arrived = time.perf_counter()
            for message in messages:
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                try:
                    reply = decode_reply(value)
                except CodecError:
                    continue
                self._on_reply(reply, arrived)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._consumer is not None:
            self._consumer.close()
