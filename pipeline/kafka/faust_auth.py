"""The same connection security for the Faust runtime (aiokafka), as `broker_credentials`.

faust-streaming 0.15 hands `broker_credentials` to every aiokafka client it builds (consumer,
producer, topic creation) through `credentials_to_aiokafka_auth`: `SSLCredentials` becomes
security_protocol SSL with its `context`, `SASLCredentials` becomes SASL_PLAINTEXT, or SASL_SSL
when it carries an `ssl_context`. aiokafka takes no file paths, so the CA, certificate and key
that librdkafka loads by name are loaded here into an `ssl.SSLContext`.
"""

from __future__ import annotations

import ssl
from typing import assert_never

import faust
from faust.types.auth import CredentialsT

from pipeline.kafka.config import sasl_password
from pipeline.kafka.security import (
    EndpointIdentification,
    KafkaSecurity,
    SecurityProtocol,
    TlsSettings,
)


def ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """Verifies the brokers like librdkafka does with the same settings (raises OSError or
    ssl.SSLError when a file is missing or not what it should be)."""
    # Given a CA file, that CA alone is trusted (as librdkafka's ssl.ca.location).
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_location)
    if tls.certificate_location is not None:
        context.load_cert_chain(
            tls.certificate_location,
            tls.key_location,
            password=tls.key_password.get_secret_value() if tls.key_password else None,
        )
    match tls.endpoint_identification:
        case EndpointIdentification.HTTPS:
            context.check_hostname = True
        case EndpointIdentification.NONE:
            # The chain is still verified (verify_mode stays CERT_REQUIRED).
            context.check_hostname = False
        case _:
            assert_never(tls.endpoint_identification)
    return context


def broker_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """Faust's `broker_credentials` for `security`; None for PLAINTEXT."""
    match security.protocol:
        case SecurityProtocol.PLAINTEXT:
            return None
        case SecurityProtocol.SSL:
            assert security.tls is not None
            return faust.SSLCredentials(ssl_context(security.tls))
        case SecurityProtocol.SASL_PLAINTEXT | SecurityProtocol.SASL_SSL:
            sasl = security.sasl
            assert sasl is not None
            return faust.SASLCredentials(
                username=sasl.username,
                password=sasl_password(sasl),
                ssl_context=ssl_context(security.tls) if security.tls is not None else None,
                mechanism=sasl.mechanism.value,
            )
        case _:
            assert_never(security.protocol)
