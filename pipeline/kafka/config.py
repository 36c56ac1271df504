"""librdkafka (confluent-kafka) configuration used by every component.

Every Producer, Consumer and AdminClient is configured from `client_config` (directly or through
`producer_config` / `consumer_config`), which is the one place that turns a `KafkaConnection`
into librdkafka keys: a client cannot be built with the brokers but without their security.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, assert_never

from pipeline.kafka.security import KafkaConnection, KafkaSecurity, SaslSettings, SecurityProtocol

# The variable that names the file (pipeline/settings/kafka.py; below the settings, so spelled
# out here for the message).
SASL_PASSWORD_FILE = "THREADWEAVER_KAFKA_SASL_PASSWORD_FILE"

# librdkafka's own lines (a broker unreachable, a retried request) go through Python's logging,
# so a component's log stays in one format (pipeline/logs.py) instead of raw `%4|…` lines on
# stderr. They are served by the client's poll/consume/flush calls, which every client makes.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")

# Java-compatible partitioning: a thread id maps to the same partition whoever produced it.
PARTITIONER = "murmur2_random"


def sasl_password(sasl: SaslSettings) -> str:
    """The literal password, or the content of the password file read now (a rotated Secret is
    picked up by the next client built)."""
    if sasl.password is not None:
        return sasl.password.get_secret_value()
    assert sasl.password_file is not None
    try:
        content = Path(sasl.password_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"{SASL_PASSWORD_FILE}: cannot read {sasl.password_file} ({exc.strerror})"
        ) from None
    # `echo secret > file` leaves a newline that is no part of the password.
    return content.rstrip("\r\n")


def security_config(security: KafkaSecurity) -> dict[str, Any]:
    """The librdkafka keys of `security` (file paths only: librdkafka loads them itself)."""
    config: dict[str, Any] = {"security.protocol": security.protocol.value.lower()}
    match security.protocol:
        case SecurityProtocol.PLAINTEXT:
            return config
        case SecurityProtocol.SSL:
            return config | _tls_config(security)
        case SecurityProtocol.SASL_PLAINTEXT:
            return config | _sasl_config(security)
        case SecurityProtocol.SASL_SSL:
            return config | _tls_config(security) | _sasl_config(security)
        case _:
            assert_never(security.protocol)


def _tls_config(security: KafkaSecurity) -> dict[str, Any]:
    tls = security.tls
    assert tls is not None, "KafkaSecurity holds TLS settings for a TLS protocol"
    optional = {
        "ssl.ca.location": tls.ca_location,
        "ssl.certificate.location": tls.certificate_location,
        "ssl.key.location": tls.key_location,
        "ssl.key.password": tls.key_password.get_secret_value() if tls.key_password else None,
    }
    return {
        "ssl.endpoint.identification.algorithm": tls.endpoint_identification.value,
        **{k: v for k, v in optional.items() if v is not None},
    }


def _sasl_config(security: KafkaSecurity) -> dict[str, Any]:
    sasl = security.sasl
    assert sasl is not None, "KafkaSecurity holds SASL settings for a SASL protocol"
    return {
        "sasl.mechanism": sasl.mechanism.value,
        "sasl.username": sasl.username,
        "sasl.password": sasl_password(sasl),
    }


def client_config(connection: KafkaConnection, **overrides: Any) -> dict[str, Any]:
    """Brokers and security, then `overrides`: the base of every client's configuration."""
    config: dict[str, Any] = {
        "bootstrap.servers": connection.bootstrap_servers,
        **security_config(connection.security),
    }
    config.update(overrides)
    return config


# Every producer's defaults: no duplicates or reordering on retries, and acknowledged only once
# replicated.
PRODUCER_DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "partitioner": PARTITIONER,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "none",
    }
)

# Every group member's defaults (its group.id is given): offsets committed by the component
# after its batch, never automatically. fetch.wait.max.ms stays librdkafka's 500 ms: Kafka
# answers a waiting fetch as soon as a record arrives, so the wait only spaces the fetches of
# an idle consumer.
CONSUMER_DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "enable.partition.eof": False,
    }
)


def producer_config(
    connection: KafkaConnection, client_id: str, **overrides: Any
) -> dict[str, Any]:
    return _role_config(connection, client_id, PRODUCER_DEFAULTS, overrides)


def consumer_config(
    connection: KafkaConnection, group_id: str, client_id: str, **overrides: Any
) -> dict[str, Any]:
    return _role_config(
        connection, client_id, {"group.id": group_id, **CONSUMER_DEFAULTS}, overrides
    )


def _role_config(
    connection: KafkaConnection,
    client_id: str,
    defaults: Mapping[str, Any],
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """A producer's or consumer's configuration: named, its librdkafka lines through Python's
    logging, then its role's defaults, then `overrides`."""
    return client_config(
        connection, **{"logger": LIBRDKAFKA_LOGGER, "client.id": client_id, **defaults, **overrides}
    )
