"""Kafka connection security with real certificate files: librdkafka loads the CA, certificate
and key when a client is constructed, and Python's ssl module when Faust's context is built, so
a wrong key name, a bad path or a mismatched key fails here. The last tests talk to an Apache
Kafka node of their own that does mutual TLS itself and authorizes clients by their certificate
(tests/support/tls_broker.py): records go through with the worker's certificate, over
librdkafka and over aiokafka; a client without a certificate, or with one of another CA, is
refused; a certificate of the right CA naming a user without ACLs is denied.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiokafka
import faust
import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from pipeline.kafka.config import client_config, consumer_config, producer_config
from pipeline.kafka.faust_auth import broker_credentials
from pipeline.kafka.offsets import end_offsets
from pipeline.kafka.security import KafkaConnection
from pipeline.settings import Settings
from pipeline.stack.ports import free_port
from pipeline.stack.topics import admin_client
from tests.support.certificates import CertificateAuthority, Issued
from tests.support.tls_broker import TlsBroker, principal, tls_broker

pytestmark = pytest.mark.integration

K = "THREADWEAVER_KAFKA_"
USER = "threadweaver-worker"
# The broker allows USER these topics and groups, and nobody else anything.
TOPIC_PREFIX = "tls."
GROUP_PREFIX = "tls-test"
KEY_PASSWORD = b"k3y-pa55"
# Nothing listens there: constructing a client must not need a broker.
NOWHERE = f"127.0.0.1:{free_port()}"
QUIET = {"log_level": 0}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def user(ca: CertificateAuthority) -> Issued:
    return ca.client(USER)


def mutual_tls_env(ca: CertificateAuthority, user: Issued, **extra: str) -> dict[str, str]:
    """What the k8s manifests set: the cluster CA and the KafkaUser's certificate and key."""
    return {
        K + "SECURITY_PROTOCOL": "SSL",
        K + "SSL_CA_LOCATION": str(ca.ca_file),
        K + "SSL_CERTIFICATE_LOCATION": str(user.certificate),
        K + "SSL_KEY_LOCATION": str(user.key),
        **{K + name: value for name, value in extra.items()},
    }


def connection(env: dict[str, str], bootstrap: str = NOWHERE) -> KafkaConnection:
    settings = Settings.from_env({"THREADWEAVER_BOOTSTRAP_SERVERS": bootstrap, **env})
    return settings.kafka


def build_producer(c: KafkaConnection) -> None:
    Producer(producer_config(c, "tls-test", **QUIET)).flush(0)


def build_consumer(c: KafkaConnection) -> None:
    Consumer(consumer_config(c, "tls-test", "tls-test", **QUIET)).close()


def build_admin(c: KafkaConnection) -> None:
    AdminClient(client_config(c, **QUIET))


BUILDERS: list[Callable[[KafkaConnection], None]] = [build_producer, build_consumer, build_admin]
BUILDER_IDS = ["producer", "consumer", "admin"]


# --- clients load the files --------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDERS, ids=BUILDER_IDS)
def test_every_client_loads_the_certificates(
    build: Callable[[KafkaConnection], None], ca: CertificateAuthority, user: Issued
) -> None:
    build(connection(mutual_tls_env(ca, user)))


@pytest.mark.parametrize("build", BUILDERS, ids=BUILDER_IDS)
def test_a_missing_key_file_fails_construction(
    build: Callable[[KafkaConnection], None],
    ca: CertificateAuthority,
    user: Issued,
    tmp_path: Path,
) -> None:
    env = mutual_tls_env(ca, user, SSL_KEY_LOCATION=str(tmp_path / "absent.key"))
    with pytest.raises(KafkaException, match=r"ssl\.key\.location"):
        build(connection(env))


def test_a_key_of_another_certificate_fails(ca: CertificateAuthority, user: Issued) -> None:
    stranger = ca.client("someone-else")
    env = mutual_tls_env(ca, user, SSL_KEY_LOCATION=str(stranger.key))
    with pytest.raises(KafkaException, match="key values mismatch"):
        build_producer(connection(env))


def test_a_ca_file_that_is_no_certificate_fails(ca: CertificateAuthority, user: Issued) -> None:
    env = mutual_tls_env(ca, user, SSL_CA_LOCATION=str(user.key))
    with pytest.raises(KafkaException, match=r"ssl\.ca\.location"):
        build_consumer(connection(env))


def test_an_encrypted_key_needs_its_password(ca: CertificateAuthority) -> None:
    locked = ca.client("locked-user", password=KEY_PASSWORD)
    build_admin(connection(mutual_tls_env(ca, locked, SSL_KEY_PASSWORD=KEY_PASSWORD.decode())))
    with pytest.raises(KafkaException, match=r"ssl\.key\.location"):
        build_admin(connection(mutual_tls_env(ca, locked)))


def test_a_sasl_password_file_is_read_when_the_client_is_built(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("first\n")
    env = {
        K + "SECURITY_PROTOCOL": "SASL_SSL",
        K + "SSL_CA_LOCATION": str(ca.ca_file),
        K + "SASL_USERNAME": USER,
        K + "SASL_PASSWORD_FILE": str(secret),
    }
    c = connection(env)
    assert client_config(c)["sasl.password"] == "first"
    build_producer(c)
    secret.write_text("rotated")
    assert client_config(c)["sasl.password"] == "rotated"
    secret.unlink()
    with pytest.raises(ValueError, match=f"{K}SASL_PASSWORD_FILE: cannot read"):
        build_producer(c)


# --- the Faust runtime, from the same files ----------------------------------------------


def test_faust_gets_an_ssl_context_of_the_same_files(
    ca: CertificateAuthority, user: Issued
) -> None:
    credentials = broker_credentials(connection(mutual_tls_env(ca, user)).security)
    assert isinstance(credentials, faust.SSLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SSL"
    context: ssl.SSLContext = auth["ssl_context"]
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    trusted = [dict(rdn[0] for rdn in c["subject"]) for c in context.get_ca_certs()]
    assert trusted == [{"commonName": "threadweaver-test-ca"}]


def test_faust_scram_over_tls(ca: CertificateAuthority, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("pw")
    env = {
        K + "SECURITY_PROTOCOL": "SASL_SSL",
        K + "SSL_CA_LOCATION": str(ca.ca_file),
        K + "SSL_ENDPOINT_IDENTIFICATION": "none",
        K + "SASL_USERNAME": USER,
        K + "SASL_PASSWORD_FILE": str(secret),
    }
    auth = credentials_to_aiokafka_auth(broker_credentials(connection(env).security))
    assert auth["security_protocol"] == "SASL_SSL"
    assert (auth["sasl_mechanism"], auth["sasl_plain_username"]) == ("SCRAM-SHA-512", USER)
    assert auth["sasl_plain_password"] == "pw"
    assert auth["ssl_context"].check_hostname is False
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_faust_fails_on_a_missing_key(
    ca: CertificateAuthority, user: Issued, tmp_path: Path
) -> None:
    env = mutual_tls_env(ca, user, SSL_KEY_LOCATION=str(tmp_path / "absent.key"))
    with pytest.raises(FileNotFoundError):
        broker_credentials(connection(env).security)


# --- through a broker that does mutual TLS ----------------------------------------------


@pytest.fixture(scope="module")
def secured(
    ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsBroker]:
    with tls_broker(
        ca.server("127.0.0.1"), ca.ca_file, tmp_path_factory.mktemp("kafka-tls")
    ) as node:
        node.allow(principal(USER), TOPIC_PREFIX, GROUP_PREFIX)
        yield node


def new_topic(c: KafkaConnection) -> str:
    topic = f"{TOPIC_PREFIX}{uuid.uuid4().hex[:12]}"
    admin = admin_client(c)  # referenced until the answer: a destroyed client fails its futures
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    return topic


def read_back(c: KafkaConnection, topic: str) -> list[bytes]:
    end = end_offsets(c, topic, [0])[0]
    consumer = Consumer(consumer_config(c, f"{GROUP_PREFIX}-{uuid.uuid4()}", "tls-test"))
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        while len(values) < end:
            for message in consumer.consume(100, 0.5):
                assert message.error() is None, message.error()
                values.append(message.value() or b"")
    finally:
        consumer.close()
    return values


def test_records_go_through_mutual_tls(
    secured: TlsBroker, ca: CertificateAuthority, user: Issued
) -> None:
    # Only USER's certificate has ACLs: the broker knew who this was.
    c = connection(mutual_tls_env(ca, user), secured.bootstrap)
    topic = new_topic(c)
    producer = Producer(producer_config(c, "tls-test"))
    producer.produce(topic, b"over librdkafka", partition=0)
    assert producer.flush(30) == 0

    async def through_aiokafka() -> None:
        # What Faust's producer gets from `broker_credentials`.
        auth: dict[str, Any] = credentials_to_aiokafka_auth(broker_credentials(c.security))
        aio = aiokafka.AIOKafkaProducer(bootstrap_servers=c.bootstrap_servers, **auth)
        await aio.start()
        try:
            await aio.send_and_wait(topic, b"over aiokafka", partition=0)
        finally:
            await aio.stop()

    asyncio.run(through_aiokafka())
    assert read_back(c, topic) == [b"over librdkafka", b"over aiokafka"]


def test_a_certificate_without_acls_is_denied(
    secured: TlsBroker, ca: CertificateAuthority, user: Issued
) -> None:
    topic = new_topic(connection(mutual_tls_env(ca, user), secured.bootstrap))
    # Same CA, so the handshake succeeds; the broker names it by its own CN, which has no ACL.
    stranger = connection(mutual_tls_env(ca, ca.client("threadweaver-stranger")), secured.bootstrap)
    admin = AdminClient(client_config(stranger, **QUIET))
    assert topic not in admin.list_topics(timeout=10).topics
    (creation,) = admin.create_topics([NewTopic(f"{topic}-mine", 1, 1)]).values()
    with pytest.raises(KafkaException) as refused:
        creation.result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    errors: list[KafkaError] = []
    producer = Producer(producer_config(stranger, "tls-test", **QUIET))
    producer.produce(topic, b"denied", partition=0, on_delivery=lambda e, _m: errors.append(e))
    producer.flush(30)
    assert [e.code() for e in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    assert read_back(connection(mutual_tls_env(ca, user), secured.bootstrap), topic) == []


def test_a_client_without_certificate_is_refused(
    secured: TlsBroker, ca: CertificateAuthority, user: Issued
) -> None:
    env = mutual_tls_env(ca, user)
    del env[K + "SSL_CERTIFICATE_LOCATION"], env[K + "SSL_KEY_LOCATION"]
    admin = AdminClient(client_config(connection(env, secured.bootstrap), **QUIET))
    with pytest.raises(KafkaException, match="Failed to get metadata"):
        admin.list_topics(timeout=3)


def test_a_client_of_another_ca_is_refused(
    secured: TlsBroker, tmp_path: Path, ca: CertificateAuthority
) -> None:
    other = CertificateAuthority(tmp_path, "another-ca")
    # Trusts the broker, but presents a certificate the broker's CA never issued.
    env = mutual_tls_env(ca, other.client("intruder"))
    admin = AdminClient(client_config(connection(env, secured.bootstrap), **QUIET))
    with pytest.raises(KafkaException, match="Failed to get metadata"):
        admin.list_topics(timeout=3)


def test_a_broker_of_another_ca_is_not_trusted(
    secured: TlsBroker, tmp_path: Path, user: Issued, ca: CertificateAuthority
) -> None:
    other = CertificateAuthority(tmp_path, "another-ca")
    shutil.copy(other.ca_file, tmp_path / "ca.crt")
    env = mutual_tls_env(ca, user, SSL_CA_LOCATION=str(tmp_path / "ca.crt"))
    admin = AdminClient(client_config(connection(env, secured.bootstrap), **QUIET))
    with pytest.raises(KafkaException, match="Failed to get metadata"):
        admin.list_topics(timeout=3)
