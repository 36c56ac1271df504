"""The Faust application: plumbing between the command topic and the BatchExecutor."""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import TP

from pipeline.kafka.crash import crash
from pipeline.kafka.faust_auth import broker_credentials
from pipeline.kafka.records import Record, from_faust
from pipeline.settings import Settings
from pipeline.worker import metrics
from pipeline.worker.wiring import build_executor

log = logging.getLogger(__name__)


def _report_lag(app: faust.App, records: list[Record]) -> None:
    last = {(r.topic, r.partition): r.offset for r in records}
    for (topic, partition), offset in last.items():
        try:
            # aiokafka's highwater: what the last Fetch response carried, no request of its own.
            high = app.consumer.highwater(TP(topic, partition))
        except Exception:
            continue
        if high is not None:
            metrics.CONSUMER_LAG.labels(str(partition)).set(max(high - offset - 1, 0))


def build_app(settings: Settings) -> faust.App:
    worker, tuning = settings.worker, settings.kafka_tuning
    app = faust.App(
        worker.group_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=broker_credentials(settings.kafka.security),
        store="memory://",
        topic_partitions=settings.partitions,
        web_enabled=False,
        broker_session_timeout=tuning.session_timeout_s,
        broker_heartbeat_interval=tuning.heartbeat_interval_s,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        # No leader-only timers here: no `<group>-__assignor-__leader` topic to create, to
        # grant in the KafkaUser's ACLs and to subscribe to.
        topic_disable_leader=True,
        # Static membership (k8s: the pod name), as in the confluent runtime: a restarted pod
        # gets its partitions back without a rebalance.
        consumer_group_instance_id=worker.group_instance_id,
        datadir=str(worker.data_dir / "faust"),
    )
    commands = app.topic(
        settings.topics.commands,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    executor, producer, store = build_executor(settings)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
        executor.forget([tp.partition for tp in revoked if tp.topic == settings.topics.commands])

    @app.agent(commands)
    async def aggregate(stream: Any) -> None:
        try:
            async for events in stream.take_events(worker.batch_max, within=worker.batch_within_s):
                records = [from_faust(event) for event in events]
                await executor.process(records)
                _report_lag(app, records)
        except Exception:
            # Faust would restart the agent past the failed batch (pipeline/kafka/crash.py).
            crash(log, "aggregate worker")

    if worker.standby_replicas > 0:

        @app.timer(interval=worker.standby_interval_s)  # type: ignore[untyped-decorator]
        async def warm_standbys() -> None:
            await executor.warm_standbys(settings.partitions)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close(app: faust.App, **_: Any) -> None:
        await executor.quiesce()
        producer.close()
        store.close()

    return app
