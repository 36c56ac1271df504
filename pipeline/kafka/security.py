"""How a client secures its Kafka connections: TLS (mutual or not), SASL/SCRAM, or neither.

A plain value: the environment is parsed by the settings (pipeline/settings/kafka.py), the
librdkafka keys are built in pipeline/kafka/config.py and the Faust credentials in
pipeline/kafka/faust_auth.py. Nothing here reads a file or opens a connection. Secrets are
pydantic's SecretStr, the one secret type of the project: masked in every repr and str.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pydantic import SecretStr


class SecurityProtocol(Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


class SaslMechanism(Enum):
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class EndpointIdentification(Enum):
    # The broker's certificate must name the host the client connected to.
    HTTPS = "https"
    # Only the chain is verified (brokers reached by an address their certificate lacks).
    NONE = "none"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Files in PEM. Without a CA file the system's trust store verifies the brokers; without
    a certificate and key the client does not authenticate by TLS (SASL may)."""

    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: SecretStr | None = None
    endpoint_identification: EndpointIdentification = EndpointIdentification.HTTPS

    def __post_init__(self) -> None:
        if (self.certificate_location is None) != (self.key_location is None):
            raise ValueError("a client certificate and its private key go together")
        if self.key_password is not None and self.key_location is None:
            raise ValueError("a key password without a private key")


@dataclass(frozen=True, slots=True)
class SaslSettings:
    """Exactly one of `password` (a literal) and `password_file` (a mounted Secret, read each
    time a client is built, so a rotated password is picked up by the next client)."""

    username: str
    password: SecretStr | None = None
    password_file: str | None = None
    mechanism: SaslMechanism = SaslMechanism.SCRAM_SHA_512

    def __post_init__(self) -> None:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("SASL needs exactly one of a password and a password file")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """`tls` is set exactly when the protocol uses TLS, `sasl` exactly when it uses SASL."""

    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    tls: TlsSettings | None = None
    sasl: SaslSettings | None = None

    def __post_init__(self) -> None:
        if self.protocol.uses_tls != (self.tls is not None):
            raise ValueError(f"{self.protocol.value}: TLS settings given iff the protocol uses TLS")
        if self.protocol.uses_sasl != (self.sasl is not None):
            raise ValueError(
                f"{self.protocol.value}: SASL settings given iff the protocol uses SASL"
            )


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where the brokers are and how to talk to them: every Kafka client is built from one."""

    bootstrap_servers: str
    security: KafkaSecurity

    @classmethod
    def plaintext(cls, bootstrap_servers: str) -> KafkaConnection:
        """Unauthenticated and unencrypted: the embedded stack's broker, nothing deployed."""
        return cls(bootstrap_servers, KafkaSecurity())
