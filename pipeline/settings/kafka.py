"""THREADWEAVER_KAFKA_*: how every Kafka client of every component connects (security) and how
long a consumer group member may stay silent (tuning)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from pipeline.kafka.security import (
    EndpointIdentification,
    KafkaSecurity,
    SaslMechanism,
    SaslSettings,
    SecurityProtocol,
    TlsSettings,
)
from pipeline.settings.base import PREFIX, PositiveSeconds, RuleError, Section, choice

KAFKA = PREFIX + "KAFKA_"

TLS_FIELDS = (
    "ssl_ca_location",
    "ssl_certificate_location",
    "ssl_key_location",
    "ssl_key_password",
    "ssl_endpoint_identification",
)
SASL_FIELDS = ("sasl_mechanism", "sasl_username", "sasl_password", "sasl_password_file")


class KafkaTuning(Section):
    """Consumer group membership of the worker, the mirror and the projector."""

    model_config = SettingsConfigDict(env_prefix=KAFKA)

    session_timeout_s: PositiveSeconds = Field(
        default=10.0,
        description="how long a silent group member keeps its partitions (Kafka refuses less "
        "than its `group.min.session.timeout.ms`, 6 s by default)",
    )
    heartbeat_interval_s: PositiveSeconds = Field(
        default=1.0, description="how often a group member tells the coordinator it is alive"
    )

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> KafkaTuning:
        if self.heartbeat_interval_s >= self.session_timeout_s:
            raise RuleError(
                f"{KAFKA}HEARTBEAT_INTERVAL_S ({self.heartbeat_interval_s:g}) must be < "
                f"{KAFKA}SESSION_TIMEOUT_S ({self.session_timeout_s:g})"
            )
        return self


class KafkaSecuritySettings(Section):
    """Every name is read whatever the protocol, so a setting that the chosen protocol would
    ignore is an error rather than a silent no-op: a deployment that sets a CA file but forgot
    SECURITY_PROTOCOL=SSL must not quietly talk plaintext (ADR 0009)."""

    model_config = SettingsConfigDict(env_prefix=KAFKA)
    secret_files = {"sasl_password": "sasl_password_file"}

    security_protocol: Annotated[SecurityProtocol, choice(SecurityProtocol)] = Field(
        default=SecurityProtocol.PLAINTEXT,
        description="TLS (`SSL`: mutual with a certificate and key), SASL/SCRAM, both or "
        "neither, for every Kafka client of every component (ADR 0009)",
    )
    ssl_ca_location: str | None = Field(
        default=None,
        description="PEM file of the CA that signed the brokers' certificates "
        "(default: the system's)",
    )
    ssl_certificate_location: str | None = Field(
        default=None, description="PEM file of the client's certificate (with its key, or neither)"
    )
    ssl_key_location: str | None = Field(
        default=None, description="PEM file of the client certificate's private key"
    )
    ssl_key_password: SecretStr | None = Field(
        default=None, description="the password of that private key, if it has one"
    )
    ssl_endpoint_identification: Annotated[
        EndpointIdentification, choice(EndpointIdentification)
    ] = Field(
        default=EndpointIdentification.HTTPS,
        description="`https`: the broker's certificate must name the host; `none`: only the "
        "chain is checked",
    )
    sasl_mechanism: Annotated[SaslMechanism, choice(SaslMechanism)] = Field(
        default=SaslMechanism.SCRAM_SHA_512, description="the SCRAM mechanism"
    )
    sasl_username: str | None = Field(default=None, description="the SCRAM user")
    sasl_password: SecretStr | None = Field(
        default=None, description="the SCRAM password (or give `…_SASL_PASSWORD_FILE`)"
    )
    sasl_password_file: str | None = Field(
        default=None,
        description="a file holding the SCRAM password (a mounted Secret), read each time a "
        "client is built, so a rotated password reaches the next client",
    )

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecuritySettings:
        protocol = self.security_protocol
        name = self.variable
        for fields, used in ((TLS_FIELDS, protocol.uses_tls), (SASL_FIELDS, protocol.uses_sasl)):
            for field in fields:
                if field in self.model_fields_set and not used:
                    raise RuleError(
                        f"{name(field)} is set but {name('security_protocol')} is "
                        f"{protocol.value}, which does not use it"
                    )
        if protocol.uses_tls:
            self._check_tls()
        if protocol.uses_sasl:
            self._check_sasl()
        return self

    def _check_tls(self) -> None:
        name = self.variable
        certificate, key = self.ssl_certificate_location, self.ssl_key_location
        if certificate is not None and key is None:
            raise RuleError(
                f"{name('ssl_key_location')} is required with {name('ssl_certificate_location')}"
                ": a client certificate is useless without its private key"
            )
        if key is not None and certificate is None:
            raise RuleError(
                f"{name('ssl_certificate_location')} is required with {name('ssl_key_location')}"
            )
        if self.ssl_key_password is not None and key is None:
            raise RuleError(f"{name('ssl_key_password')} is set without {name('ssl_key_location')}")

    def _check_sasl(self) -> None:
        name = self.variable
        protocol = f"{name('security_protocol')}={self.security_protocol.value}"
        if self.sasl_username is None:
            raise RuleError(f"{name('sasl_username')} is required with {protocol}")
        password, password_file = name("sasl_password"), name("sasl_password_file")
        if self.sasl_password is None and self.sasl_password_file is None:
            raise RuleError(f"{password} or {password_file} is required with {protocol}")
        if self.sasl_password is not None and self.sasl_password_file is not None:
            raise RuleError(f"set only one of {password} and {password_file}")

    @property
    def value(self) -> KafkaSecurity:
        """What the Kafka toolkit builds clients from (pipeline/kafka/config.py)."""
        protocol = self.security_protocol
        tls = (
            TlsSettings(
                ca_location=self.ssl_ca_location,
                certificate_location=self.ssl_certificate_location,
                key_location=self.ssl_key_location,
                key_password=self.ssl_key_password,
                endpoint_identification=self.ssl_endpoint_identification,
            )
            if protocol.uses_tls
            else None
        )
        sasl = (
            SaslSettings(
                username=self.sasl_username or "",
                password=self.sasl_password,
                password_file=self.sasl_password_file,
                mechanism=self.sasl_mechanism,
            )
            if protocol.uses_sasl
            else None
        )
        return KafkaSecurity(protocol=protocol, tls=tls, sasl=sasl)

    def to_env(self) -> dict[str, str]:
        """Only what the protocol uses: a TLS default under PLAINTEXT would read back as an
        error."""
        protocol = self.security_protocol
        unused = (() if protocol.uses_tls else TLS_FIELDS) + (
            () if protocol.uses_sasl else SASL_FIELDS
        )
        skip = {self.variable(field) for field in unused}
        return {k: v for k, v in super().to_env().items() if k not in skip}
