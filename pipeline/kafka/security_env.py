"""THREADWEAVER_KAFKA_* connection security: parsed from, and written back to, the environment.

Every name is read whatever the protocol, so a setting that the chosen protocol would ignore is
an error (naming the variable) rather than a silent no-op: a deployment that sets a CA file but
forgot SECURITY_PROTOCOL=SSL must not quietly talk plaintext.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pipeline.kafka.security import (
    EndpointIdentification,
    KafkaSecurity,
    SaslMechanism,
    SaslSettings,
    Secret,
    SecurityProtocol,
    TlsSettings,
)

KAFKA = "THREADWEAVER_KAFKA_"
SECURITY_PROTOCOL = KAFKA + "SECURITY_PROTOCOL"
SSL_CA_LOCATION = KAFKA + "SSL_CA_LOCATION"
SSL_CERTIFICATE_LOCATION = KAFKA + "SSL_CERTIFICATE_LOCATION"
SSL_KEY_LOCATION = KAFKA + "SSL_KEY_LOCATION"
SSL_KEY_PASSWORD = KAFKA + "SSL_KEY_PASSWORD"
SSL_ENDPOINT_IDENTIFICATION = KAFKA + "SSL_ENDPOINT_IDENTIFICATION"
SASL_MECHANISM = KAFKA + "SASL_MECHANISM"
SASL_USERNAME = KAFKA + "SASL_USERNAME"
SASL_PASSWORD = KAFKA + "SASL_PASSWORD"
SASL_PASSWORD_FILE = KAFKA + "SASL_PASSWORD_FILE"

TLS_NAMES = (
    SSL_CA_LOCATION,
    SSL_CERTIFICATE_LOCATION,
    SSL_KEY_LOCATION,
    SSL_KEY_PASSWORD,
    SSL_ENDPOINT_IDENTIFICATION,
)
SASL_NAMES = (SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD, SASL_PASSWORD_FILE)


E = TypeVar("E", SecurityProtocol, SaslMechanism, EndpointIdentification)


def _choice(kind: type[E], name: str, raw: str) -> E:
    for member in kind:
        if member.value.lower() == raw.strip().lower():
            return member
    choices = ", ".join(m.value for m in kind)
    raise ValueError(f"{name} must be one of {choices}, got {raw!r}")


def security_from_env(env: Mapping[str, str]) -> KafkaSecurity:
    # Empty counts as unset: a ConfigMap or compose file may carry a blank value.
    given = {
        name: value
        for name in (SECURITY_PROTOCOL, *TLS_NAMES, *SASL_NAMES)
        if (value := env.get(name, "")) != ""
    }
    protocol = _choice(
        SecurityProtocol, SECURITY_PROTOCOL, given.get(SECURITY_PROTOCOL, "PLAINTEXT")
    )
    for names, used in ((TLS_NAMES, protocol.uses_tls), (SASL_NAMES, protocol.uses_sasl)):
        for name in names:
            if name in given and not used:
                raise ValueError(
                    f"{name} is set but {SECURITY_PROTOCOL} is {protocol.value}, which does "
                    "not use it"
                )
    return KafkaSecurity(
        protocol=protocol,
        tls=_tls(given) if protocol.uses_tls else None,
        sasl=_sasl(given, protocol) if protocol.uses_sasl else None,
    )


def _tls(given: Mapping[str, str]) -> TlsSettings:
    certificate = given.get(SSL_CERTIFICATE_LOCATION)
    key = given.get(SSL_KEY_LOCATION)
    if certificate is not None and key is None:
        raise ValueError(
            f"{SSL_KEY_LOCATION} is required with {SSL_CERTIFICATE_LOCATION}: a client "
            "certificate is useless without its private key"
        )
    if key is not None and certificate is None:
        raise ValueError(f"{SSL_CERTIFICATE_LOCATION} is required with {SSL_KEY_LOCATION}")
    password = given.get(SSL_KEY_PASSWORD)
    if password is not None and key is None:
        raise ValueError(f"{SSL_KEY_PASSWORD} is set without {SSL_KEY_LOCATION}")
    return TlsSettings(
        ca_location=given.get(SSL_CA_LOCATION),
        certificate_location=certificate,
        key_location=key,
        key_password=Secret(password) if password is not None else None,
        endpoint_identification=_choice(
            EndpointIdentification,
            SSL_ENDPOINT_IDENTIFICATION,
            given.get(SSL_ENDPOINT_IDENTIFICATION, EndpointIdentification.HTTPS.value),
        ),
    )


def _sasl(given: Mapping[str, str], protocol: SecurityProtocol) -> SaslSettings:
    username = given.get(SASL_USERNAME)
    if username is None:
        raise ValueError(f"{SASL_USERNAME} is required with {SECURITY_PROTOCOL}={protocol.value}")
    password = given.get(SASL_PASSWORD)
    password_file = given.get(SASL_PASSWORD_FILE)
    if password is None and password_file is None:
        raise ValueError(
            f"{SASL_PASSWORD} or {SASL_PASSWORD_FILE} is required with "
            f"{SECURITY_PROTOCOL}={protocol.value}"
        )
    if password is not None and password_file is not None:
        raise ValueError(f"set only one of {SASL_PASSWORD} and {SASL_PASSWORD_FILE}")
    return SaslSettings(
        username=username,
        password=Secret(password) if password is not None else None,
        password_file=password_file,
        mechanism=_choice(
            SaslMechanism,
            SASL_MECHANISM,
            given.get(SASL_MECHANISM, SaslMechanism.SCRAM_SHA_512.value),
        ),
    )


def security_to_env(security: KafkaSecurity) -> dict[str, str]:
    """The variables that reproduce `security`. A literal password is written out (child
    processes need it); a password read from a file is passed on as the file's name."""
    env = {SECURITY_PROTOCOL: security.protocol.value}
    tls = security.tls
    if tls is not None:
        optional = {
            SSL_CA_LOCATION: tls.ca_location,
            SSL_CERTIFICATE_LOCATION: tls.certificate_location,
            SSL_KEY_LOCATION: tls.key_location,
            SSL_KEY_PASSWORD: tls.key_password.reveal() if tls.key_password else None,
        }
        env.update({k: v for k, v in optional.items() if v is not None})
        env[SSL_ENDPOINT_IDENTIFICATION] = tls.endpoint_identification.value
    sasl = security.sasl
    if sasl is not None:
        env[SASL_MECHANISM] = sasl.mechanism.value
        env[SASL_USERNAME] = sasl.username
        if sasl.password is not None:
            env[SASL_PASSWORD] = sasl.password.reveal()
        if sasl.password_file is not None:
            env[SASL_PASSWORD_FILE] = sasl.password_file
    return env
