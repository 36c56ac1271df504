"""One typed, frozen configuration object built from the environment.

Every component reads its configuration through `Settings.from_env()` in its `main()`;
nothing here opens a connection. The variable names are the contract shared with
docker-compose and k8s (docs/architecture.md, Configuration).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.kafka.security import KafkaConnection, KafkaSecurity
from pipeline.kafka.security_env import security_from_env, security_to_env

PREFIX = "THREADWEAVER_"


@dataclass(frozen=True, slots=True)
class Topics:
    commands: str = "threadweaver.thread-commands"
    events: str = "threadweaver.thread-events"
    replies: str = "threadweaver.thread-replies"
    commands_dlq: str = "threadweaver.thread-commands.dlq"
    events_conflicts: str = "threadweaver.thread-events.conflicts"


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    pg_dsn: str | None = None
    dynamodb_table: str = "threadweaver-journal"
    dynamodb_endpoint: str | None = None
    aws_region: str = "eu-west-1"
    partitions: int = 4
    api_url: str = "http://127.0.0.1:8000"
    topics: Topics = field(default_factory=Topics)
    # THREADWEAVER_KAFKA_SECURITY_PROTOCOL and friends (pipeline/kafka/security_env.py).
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @property
    def kafka(self) -> KafkaConnection:
        """What every Kafka client of the components is built from (pipeline/kafka/config.py)."""
        return KafkaConnection(self.bootstrap_servers, self.kafka_security)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str, default: str) -> str:
            return env.get(PREFIX + name, default)

        partitions_raw = get("PARTITIONS", str(defaults.partitions))
        try:
            partitions = int(partitions_raw)
        except ValueError as exc:
            raise ValueError(
                f"{PREFIX}PARTITIONS must be an integer, got {partitions_raw!r}"
            ) from exc
        if partitions < 1:
            raise ValueError(f"{PREFIX}PARTITIONS must be >= 1, got {partitions}")
        return cls(
            bootstrap_servers=get("BOOTSTRAP_SERVERS", defaults.bootstrap_servers),
            pg_dsn=env.get(PREFIX + "PG_DSN") or None,
            dynamodb_table=get("DYNAMODB_TABLE", defaults.dynamodb_table),
            dynamodb_endpoint=env.get(PREFIX + "DYNAMODB_ENDPOINT") or None,
            aws_region=env.get("AWS_REGION", defaults.aws_region),
            partitions=partitions,
            api_url=get("API_URL", defaults.api_url),
            kafka_security=security_from_env(env),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (for `stack env` and child processes)."""
        env = {
            PREFIX + "BOOTSTRAP_SERVERS": self.bootstrap_servers,
            PREFIX + "DYNAMODB_TABLE": self.dynamodb_table,
            "AWS_REGION": self.aws_region,
            PREFIX + "PARTITIONS": str(self.partitions),
            PREFIX + "API_URL": self.api_url,
            **security_to_env(self.kafka_security),
        }
        if self.pg_dsn is not None:
            env[PREFIX + "PG_DSN"] = self.pg_dsn
        if self.dynamodb_endpoint is not None:
            env[PREFIX + "DYNAMODB_ENDPOINT"] = self.dynamodb_endpoint
        return env
