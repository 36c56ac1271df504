"""The settings tree: the shared settings at its root, one section per part of the system.

Every component reads it in its `main()` with `Settings.from_env()` (nothing here reads the
environment at import, nor opens a connection). The variable names are the contract shared with
docker-compose, k8s and `threadweaver stack env`; README's Configuration table is generated
from these models (pipeline/settings/doc.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from pipeline.kafka.security import KafkaConnection
from pipeline.settings.api import ApiSettings
from pipeline.settings.base import (
    PREFIX,
    AtLeastOne,
    RuleError,
    Section,
    SettingsError,
    as_text,
    is_section,
)
from pipeline.settings.components import (
    LogSettings,
    MirrorSettings,
    ProjectorSettings,
    WorkerSettings,
)
from pipeline.settings.kafka import KafkaSecuritySettings, KafkaTuning


@dataclass(frozen=True, slots=True)
class Topics:
    commands: str = "threadweaver.thread-commands"
    events: str = "threadweaver.thread-events"
    replies: str = "threadweaver.thread-replies"
    commands_dlq: str = "threadweaver.thread-commands.dlq"
    events_conflicts: str = "threadweaver.thread-events.conflicts"
    snapshots: str = "threadweaver.thread-snapshots"


class StackSettings(Section):
    """The embedded local stack (`threadweaver stack …`, `threadweaver run`)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    data_dir: Path = Field(
        default=Path(".data"), description="where the embedded stack keeps its data and logs"
    )
    pg_os_user: str | None = Field(
        default=None,
        description="as root: the unprivileged account the embedded PostgreSQL runs as "
        "(default: the first of threadweaver, postgres, nobody)",
    )


class Settings(Section):
    model_config = SettingsConfigDict(env_prefix=PREFIX)

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Kafka")
    partitions: AtLeastOne = Field(default=4, description="partitions of every topic (all equal)")
    pg_dsn: str | None = Field(
        default=None,
        description="PostgreSQL (the read model); the stack uses an embedded server unless set",
    )
    dynamodb_table: str = Field(
        default="threadweaver-journal", description="the journal mirror's table"
    )
    dynamodb_endpoint: str | None = Field(
        default=None, description="DynamoDB endpoint (local only; unset: AWS)"
    )
    aws_region: str = Field(
        default="eu-west-1",
        validation_alias="AWS_REGION",
        description="the DynamoDB table's region (credentials: the AWS SDK's own chain)",
    )
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where HTTP clients (`run`'s demo) find the API",
    )
    schemas_dir: Path | None = Field(
        default=None,
        description="the folder holding `avro/`, `sql/` and `dynamodb/` (unset: `schemas/` of "
        "the source tree)",
    )
    kafka_tuning: KafkaTuning = Field(default_factory=KafkaTuning)
    kafka_security: KafkaSecuritySettings = Field(default_factory=KafkaSecuritySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    mirror: MirrorSettings = Field(default_factory=MirrorSettings)
    projector: ProjectorSettings = Field(default_factory=ProjectorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    topics: ClassVar[Topics] = Topics()

    @model_validator(mode="after")
    def _reply_partition_exists(self) -> Settings:
        partition = self.api.reply_partition
        if partition is not None and partition >= self.partitions:
            raise RuleError(
                f"{self.api.variable('reply_partition')} must be < "
                f"{self.variable('partitions')} ({self.partitions}), got {partition}"
            )
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """What every Kafka client of the components is built from (pipeline/kafka/config.py)."""
        return KafkaConnection(self.bootstrap_servers, self.kafka_security.value)

    @property
    def schemas_path(self) -> Path:
        """`schemas_dir`, else `schemas/` of the source tree (installed editable, so it is
        there; the variable is for deployments that ship the folder elsewhere)."""
        return self.schemas_dir or Path(__file__).resolve().parents[2] / "schemas"

    def required_pg_dsn(self, who: str) -> str:
        if not self.pg_dsn:
            raise SettingsError(f"{who} needs {self.variable('pg_dsn')} (a PostgreSQL DSN)")
        return self.pg_dsn

    def to_env(self) -> dict[str, str]:
        """Where the system is: what `stack env` prints and child processes inherit. The
        component sections stay out, so that defaults never override what a launcher sets for
        one child (a worker's data dir, a test's session timeout); `Section.to_env` of a
        section writes that section."""
        own = {
            self.variable(name): as_text(value)
            for name, field in type(self).model_fields.items()
            if not is_section(field.annotation) and (value := getattr(self, name)) is not None
        }
        return {**own, **self.kafka_security.to_env()}
