"""THREADWEAVER_WORKER_*, THREADWEAVER_MIRROR_*, THREADWEAVER_PROJECTOR_*: each component's
own settings (the shared ones and Kafka's are in tree.py and kafka.py)."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipeline.settings.base import (
    PREFIX,
    AtLeastOne,
    NonNegative,
    Port,
    PositiveSeconds,
    Seconds,
    Section,
    choice,
)


class WorkerRuntime(StrEnum):
    """Both run the same executor (ADR 0002)."""

    FAUST = "faust"
    CONFLUENT = "confluent"


class WorkerSettings(Section):
    """`standby_replicas` > 0: each worker keeps warm copies of the partitions it does not
    own (so a cluster of N workers has N - 1 standbys of each partition)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "WORKER_")

    data_dir: Path = Field(default=Path(".data/worker"), description="RocksDB cache of the worker")
    metrics_port: Port = Field(
        default=9464, description="Prometheus metrics of the worker (0 = off)"
    )
    batch_max: AtLeastOne = Field(default=1000, description="commands per batch at most")
    batch_within_s: Seconds = Field(
        default=0.005, description="how long the Faust runtime waits to fill a batch"
    )
    group_instance_id: str | None = Field(
        default=None, description="static group membership (k8s: the pod name; both runtimes)"
    )
    runtime: Annotated[WorkerRuntime, choice(WorkerRuntime)] = Field(
        default=WorkerRuntime.FAUST,
        description="`faust` (a Faust agent; what compose, k8s and the bench run by default) or "
        "`confluent` (a plain consumer loop); same executor (ADR 0002)",
    )
    # One group per system, whichever runtime its workers run.
    group_id: str = Field(default="threadweaver-worker", description="the workers' consumer group")
    standby_replicas: NonNegative = Field(
        default=0, description="> 0: keep warm copies of partitions owned by other workers"
    )
    standby_interval_s: PositiveSeconds = Field(
        default=5.0, description="how often the standby copies are refreshed"
    )
    snapshots: bool = Field(
        default=True,
        description="write thread snapshots and restore from them when taking a partition over "
        "(ADR 0015)",
    )
    snapshot_every_events: AtLeastOne = Field(
        default=20_000,
        description="a partition's snapshot round is due after this many appended events...",
    )
    snapshot_interval_s: PositiveSeconds = Field(
        default=30.0, description="...or this long after its last round, if it changed"
    )


class WriteMethod(Enum):
    """How new items reach DynamoDB (measured in docs/adr/0005-journal-mirror.md)."""

    # BatchGetItem (consistent) for what is stored, then BatchWriteItem for what is new.
    BATCH = "batch"
    # One PutItem per item, conditional on the key being absent.
    CONDITIONAL = "conditional"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class LogSettings(Section):
    """Every component's logs (pipeline/logs.py): JSON lines for containers and log shippers,
    readable lines for a terminal (`threadweaver run` sets console for what it starts)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "LOG_")

    level: Annotated[LogLevel, choice(LogLevel)] = Field(
        default=LogLevel.INFO,
        description="log level of every component (DEBUG: one line per command and per "
        "projected event, with its command_id)",
    )
    format: Annotated[LogFormat, choice(LogFormat)] = Field(
        default=LogFormat.JSON, description="`json` (one object per line) or `console`"
    )


class MirrorSettings(Section):
    model_config = SettingsConfigDict(env_prefix=PREFIX + "MIRROR_")

    metrics_port: Port = Field(
        default=9465, description="Prometheus metrics of the mirror (0 = off)"
    )
    batch_max: AtLeastOne = Field(default=2000, description="journal records per batch at most")
    concurrency: AtLeastOne = Field(default=4, description="DynamoDB requests in flight")
    write_method: Annotated[WriteMethod, choice(WriteMethod)] = Field(
        default=WriteMethod.BATCH,
        description="`batch` (BatchGetItem + BatchWriteItem) or `conditional` (PutItem if "
        "absent); ADR 0005",
    )
    max_attempts: AtLeastOne = Field(
        default=5, description="refusals of one item by DynamoDB before it is dead-lettered"
    )
    backoff_base_s: Seconds = Field(default=0.05, description="retry backoff (full jitter): base")
    backoff_cap_s: Seconds = Field(default=5.0, description="retry backoff: cap")
    retry_deadline_s: Seconds = Field(
        default=300.0,
        description="past it, a batch still failing exits the process (code 70) uncommitted",
    )
    request_timeout_s: PositiveSeconds = Field(
        default=10.0, description="DynamoDB connect/read timeout"
    )
    group_instance_id: str | None = Field(default=None, description="static group membership")
    log_level: Annotated[LogLevel, choice(LogLevel)] = Field(
        default=LogLevel.INFO, description="log level of the mirror's own loggers"
    )


DEFAULT_PROJECTOR_GROUP_ID = "threadweaver-projector"


class ProjectorSettings(Section):
    model_config = SettingsConfigDict(env_prefix=PREFIX + "PROJECTOR_")

    # One consumer group per read model: a second database (a test, a blue/green rebuild)
    # needs its own group, or the two would share committed offsets.
    group_id: str = Field(
        default=DEFAULT_PROJECTOR_GROUP_ID,
        description="consumer group: one per read-model database",
    )
    metrics_port: Port = Field(
        default=9466, description="Prometheus metrics of the projector (0 = off)"
    )
    batch_max: AtLeastOne = Field(
        default=2000, description="journal records per transaction at most"
    )
    log_interval_s: Seconds = Field(
        default=10.0, description="how often the projector logs throughput and lag (0 = never)"
    )
