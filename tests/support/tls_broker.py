"""A Kafka broker that does mutual TLS itself, for tests: a one-node KRaft Apache Kafka of its
own whose client listener, like Strimzi's `tls` listener with `authentication: tls`, accepts
only clients presenting a certificate of the given CA, and authorizes each by its certificate.

Listeners:
- `SSL` on `ssl_port`, the clients' one: `ssl.client.auth=required`, the server's key and
  certificate and the trusted CA read from PEM files. A client bootstrapping here only ever
  gets SSL endpoints back in metadata (Kafka answers with the listener it was asked on).
- `PLAINTEXT` on `plaintext_port`, the inter-broker listener and the tests' administration
  door (readiness, ACLs), and `CONTROLLER` for the KRaft quorum.

The KRaft authorizer is on and denies what no ACL allows. A TLS client's principal is Kafka's
default for SSL, the certificate's full subject (`User:CN=threadweaver-worker`), which is also
what Strimzi names a KafkaUser of type `tls`. The plaintext listeners' principal,
`User:ANONYMOUS`, is the super user (the broker talking to itself, and the tests' admin).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection
from pipeline.stack import broker
from pipeline.stack.ports import LOOPBACK, pick_ports
from pipeline.stack.process import spawn, stop
from tests.support.certificates import Issued

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
SUPER_USER = "User:ANONYMOUS"
START_TIMEOUT_S = 120.0


def principal(common_name: str) -> str:
    """The principal Kafka derives from a certificate issued by tests.support.certificates
    (a subject of one CN): the RFC 2253 form of the subject."""
    return f"User:CN={common_name}"


def write_keystore(server: Issued, path: Path) -> Path:
    """The broker's key and certificate in one PEM file.

    With `ssl.keystore.type=PEM`, `ssl.keystore.location` is one file read both for the
    private key and for the certificate chain (Kafka's FileBasedPemStore passes the whole file
    to each), so key and certificate must share it. Kafka decodes the key as PKCS#8 ("BEGIN
    PRIVATE KEY", as certificates.py writes it; a traditional "BEGIN EC PRIVATE KEY" would not
    load) and takes it unencrypted when no `ssl.key.password` is set. A file rather than the
    inline `ssl.keystore.key` / `ssl.keystore.certificate.chain` values keeps multi-line PEM
    out of server.properties.
    """
    path.write_bytes(server.key.read_bytes() + server.certificate.read_bytes())
    path.chmod(0o600)
    return path


@dataclass(frozen=True, slots=True)
class TlsBroker:
    ssl_port: int
    plaintext_port: int
    log_path: Path

    @property
    def bootstrap(self) -> str:
        """The mutual-TLS listener, for the clients under test."""
        return f"{LOOPBACK}:{self.ssl_port}"

    @property
    def superuser(self) -> KafkaConnection:
        """The plaintext listener: `User:ANONYMOUS`, allowed everything."""
        return KafkaConnection.plaintext(f"{LOOPBACK}:{self.plaintext_port}")

    def allow(self, who: str, topic_prefix: str, group_prefix: str, timeout: float = 30.0) -> None:
        """Let `who` do anything on topics and consumer groups named with these prefixes."""
        admin = AdminClient(client_config(self.superuser, log_level=3))
        bindings = [
            AclBinding(
                kind,
                prefix,
                ResourcePatternType.PREFIXED,
                who,
                "*",
                AclOperation.ALL,
                AclPermissionType.ALLOW,
            )
            for kind, prefix in (
                (ResourceType.TOPIC, topic_prefix),
                (ResourceType.GROUP, group_prefix),
            )
        ]
        for future in admin.create_acls(bindings, request_timeout=timeout).values():
            future.result(timeout=timeout)


def broker_config(
    node: TlsBroker, controller_port: int, server: Issued, ca_file: Path, root: Path
) -> broker.BrokerConfig:
    ssl = node.bootstrap
    plaintext = node.superuser.bootstrap_servers
    overrides = {
        "listeners": f"SSL://{ssl},PLAINTEXT://{plaintext},"
        f"CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"SSL://{ssl},PLAINTEXT://{plaintext}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        # Only the SSL listener uses these.
        "ssl.client.auth": "required",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(write_keystore(server, root / "server.pem")),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca_file),
        "authorizer.class.name": AUTHORIZER,
        "super.users": SUPER_USER,
        "allow.everyone.if.no.acl.found": "false",
    }
    return broker.BrokerConfig(node.plaintext_port, controller_port, overrides)


@contextlib.contextmanager
def tls_broker(server: Issued, ca_file: Path, root: Path) -> Iterator[TlsBroker]:
    """A fresh Kafka node under `root` (configuration, data, log), stopped on exit."""
    broker.install()
    ports = pick_ports(["ssl", "plaintext", "controller"])
    node = TlsBroker(ports["ssl"], ports["plaintext"], root / "kafka.log")
    layout = broker.BrokerLayout(root / "kafka")
    broker.prepare(layout, broker_config(node, ports["controller"], server, ca_file, root))
    pid_dir = root / "run"
    record = spawn(broker.spec(layout, node.log_path), pid_dir)
    try:
        # Produce and fetch back over the plaintext listener: the node leads partitions.
        broker.wait_ready(node.superuser.bootstrap_servers, START_TIMEOUT_S, record)
        yield node
    finally:
        stop(record, pid_dir)
