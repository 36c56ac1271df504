"""`threadweaver mirror`: run the journal mirror until SIGTERM/SIGINT.

Exit codes: 0 after a clean stop; 70 when it stopped itself because it must not go on (a
batch still failing at its retry deadline, dead letters not acknowledged): nothing of that
batch was committed, and the restart mirrors it again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from confluent_kafka import Consumer
from prometheus_client import start_http_server

from pipeline.kafka.config import consumer_config
from pipeline.kafka.crash import crash
from pipeline.mirror.aws import dynamodb_client
from pipeline.mirror.batch import BatchMirror
from pipeline.mirror.config import MirrorSettings
from pipeline.mirror.deadletters import DeadLetterProducer
from pipeline.mirror.faults import FaultInjector, parse_faults
from pipeline.mirror.runner import GROUP_ID, MirrorRunner
from pipeline.mirror.writer import DynamoWriter, RetryPolicy

log = logging.getLogger("threadweaver.mirror")


def _consumer(settings: MirrorSettings) -> Consumer:
    overrides: dict[str, object] = {
        "session.timeout.ms": int(settings.session_timeout_s * 1000),
        "heartbeat.interval.ms": int(settings.heartbeat_interval_s * 1000),
        # A batch may retry until its deadline: stay in the group meanwhile.
        "max.poll.interval.ms": int(max(300.0, settings.retry_deadline_s + 60.0) * 1000),
    }
    if settings.group_instance_id:
        # Static membership: a restarted pod gets its partitions back without a rebalance.
        overrides["group.instance.id"] = settings.group_instance_id
    base = settings.base
    return Consumer(consumer_config(base.kafka, GROUP_ID, f"{GROUP_ID}-{os.getpid()}", **overrides))


def build(settings: MirrorSettings) -> tuple[MirrorRunner, DynamoWriter, DeadLetterProducer]:
    base = settings.base
    client = dynamodb_client(
        base, pool=settings.concurrency + 2, timeout_s=settings.request_timeout_s
    )
    if settings.faults:
        log.warning("TEST FAULT INJECTION ENABLED: %s", settings.faults)
        FaultInjector(parse_faults(settings.faults)).install(client)
    policy = RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.backoff_cap_s)
    writer = DynamoWriter(client, base.dynamodb_table, policy, settings.concurrency)
    dead_letters = DeadLetterProducer(
        base.kafka, base.topics.events_conflicts, f"{GROUP_ID}-{os.getpid()}"
    )
    mirror = BatchMirror(writer, dead_letters, settings.write_method, settings.retry_deadline_s)
    runner = MirrorRunner(_consumer(settings), base.topics.events, mirror, settings.batch_max)
    return runner, writer, dead_letters


def main() -> NoReturn:
    settings = MirrorSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # DEBUG for our loggers only: botocore's would log every request.
    for name in ("pipeline", "threadweaver"):
        logging.getLogger(name).setLevel(settings.log_level)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")
    base = settings.base
    log.info(
        "mirroring %s to DynamoDB table %s (%s%s), %s writes, batches of %d, %d in flight",
        base.topics.events,
        base.dynamodb_table,
        base.aws_region,
        f", endpoint {base.dynamodb_endpoint}" if base.dynamodb_endpoint else "",
        settings.write_method.value,
        settings.batch_max,
        settings.concurrency,
    )
    runner, writer, dead_letters = build(settings)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping after the current batch", signal.Signals(signum).name)
        runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runner.run()
    except Exception:
        crash(log, "journal mirror")
    runner.close()
    dead_letters.close()
    writer.close()
    log.info("stopped")
    sys.exit(0)
