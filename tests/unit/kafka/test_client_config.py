"""The one builder: a KafkaConnection turned into librdkafka keys and Faust credentials, and
every confluent client of the code base built through it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from pipeline.kafka.config import client_config, consumer_config, producer_config
from pipeline.kafka.faust_auth import broker_credentials
from pipeline.kafka.security import (
    EndpointIdentification,
    KafkaConnection,
    KafkaSecurity,
    SaslMechanism,
    SaslSettings,
    SecurityProtocol,
    TlsSettings,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
BROKERS = "kafka-0:9093,kafka-1:9093"
MUTUAL_TLS = TlsSettings(
    ca_location="/ca/ca.crt",
    certificate_location="/user/user.crt",
    key_location="/user/user.key",
)
SCRAM = SaslSettings("threadweaver-worker", password=SecretStr("pw"))


def config_of(security: KafkaSecurity) -> dict[str, Any]:
    return client_config(KafkaConnection(BROKERS, security))


def test_plaintext() -> None:
    assert client_config(KafkaConnection.plaintext(BROKERS)) == {
        "bootstrap.servers": BROKERS,
        "security.protocol": "plaintext",
    }


def test_mutual_tls() -> None:
    assert config_of(KafkaSecurity(SecurityProtocol.SSL, tls=MUTUAL_TLS)) == {
        "bootstrap.servers": BROKERS,
        "security.protocol": "ssl",
        "ssl.ca.location": "/ca/ca.crt",
        "ssl.certificate.location": "/user/user.crt",
        "ssl.key.location": "/user/user.key",
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_tls_without_client_certificate_or_ca() -> None:
    tls = TlsSettings(endpoint_identification=EndpointIdentification.NONE)
    assert config_of(KafkaSecurity(SecurityProtocol.SSL, tls=tls)) == {
        "bootstrap.servers": BROKERS,
        "security.protocol": "ssl",
        "ssl.endpoint.identification.algorithm": "none",
    }


def test_key_password() -> None:
    tls = TlsSettings(certificate_location="/c", key_location="/k", key_password=SecretStr("kp"))
    assert config_of(KafkaSecurity(SecurityProtocol.SSL, tls=tls))["ssl.key.password"] == "kp"


def test_scram_over_tls() -> None:
    tls = TlsSettings(ca_location="/ca/ca.crt")
    assert config_of(KafkaSecurity(SecurityProtocol.SASL_SSL, tls=tls, sasl=SCRAM)) == {
        "bootstrap.servers": BROKERS,
        "security.protocol": "sasl_ssl",
        "ssl.ca.location": "/ca/ca.crt",
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "threadweaver-worker",
        "sasl.password": "pw",
    }


def test_scram_without_tls() -> None:
    sasl = SaslSettings("u", password=SecretStr("pw"), mechanism=SaslMechanism.SCRAM_SHA_256)
    assert config_of(KafkaSecurity(SecurityProtocol.SASL_PLAINTEXT, sasl=sasl)) == {
        "bootstrap.servers": BROKERS,
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "u",
        "sasl.password": "pw",
    }


def test_producer_and_consumer_configs_carry_the_security() -> None:
    connection = KafkaConnection(BROKERS, KafkaSecurity(SecurityProtocol.SSL, tls=MUTUAL_TLS))
    security = client_config(connection)
    producer = producer_config(connection, "p", **{"linger.ms": 7})
    consumer = consumer_config(connection, "g", "c", **{"fetch.wait.max.ms": 5})
    assert security.items() <= producer.items()
    assert security.items() <= consumer.items()
    assert (producer["linger.ms"], producer["enable.idempotence"]) == (7, True)
    assert (consumer["fetch.wait.max.ms"], consumer["group.id"]) == (5, "g")


def test_faust_gets_no_credentials_for_plaintext() -> None:
    assert broker_credentials(KafkaSecurity()) is None
    assert credentials_to_aiokafka_auth(None) == {"security_protocol": "PLAINTEXT"}


def test_faust_gets_scram_credentials() -> None:
    sasl = SaslSettings("u", password=SecretStr("pw"), mechanism=SaslMechanism.SCRAM_SHA_256)
    credentials = broker_credentials(KafkaSecurity(SecurityProtocol.SASL_PLAINTEXT, sasl=sasl))
    assert isinstance(credentials, faust.SASLCredentials)
    # What faust-streaming hands to every aiokafka client it builds.
    assert credentials_to_aiokafka_auth(credentials) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "u",
        "sasl_plain_password": "pw",
        "ssl_context": None,
    }


# --- no client bypasses the builder ----------------------------------------------------------

CLIENTS = {"Producer", "Consumer", "AdminClient"}
BUILDERS = {"client_config", "producer_config", "consumer_config"}


def unbuilt_clients(source: str) -> list[int]:
    """Lines that construct a confluent client from anything but a builder's result."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id not in CLIENTS:
            continue
        built = (
            len(node.args) == 1
            and isinstance(node.args[0], ast.Call)
            and isinstance(node.args[0].func, ast.Name)
            and node.args[0].func.id in BUILDERS
        )
        if not built:
            lines.append(node.lineno)
    return lines


def product_sources() -> list[Path]:
    """The components' code (bench/ drives the embedded stack's plaintext broker)."""
    files = [p for top in ("pipeline", "api") for p in (ROOT / top).rglob("*.py")]
    assert len(files) > 50
    return files


def test_every_confluent_client_is_built_by_the_builder() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in product_sources()
        if (lines := unbuilt_clients(path.read_text()))
    }
    assert offenders == {}


def test_a_hand_built_client_is_caught() -> None:
    good = "c = Consumer(consumer_config(connection, 'g', 'c'))\n"
    bad = "a = AdminClient({'bootstrap.servers': servers})\n"
    assert unbuilt_clients(good) == []
    assert unbuilt_clients(good + bad) == [2]


def test_no_bootstrap_key_outside_the_builder() -> None:
    builder = ROOT / "pipeline" / "kafka" / "config.py"
    spelled = [
        str(p.relative_to(ROOT))
        for p in product_sources()
        if p != builder and "bootstrap.servers" in p.read_text()
    ]
    assert spelled == []
