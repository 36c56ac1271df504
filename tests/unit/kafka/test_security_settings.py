"""THREADWEAVER_KAFKA_* connection security in the settings tree: parsing, validation, secrecy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from pipeline.kafka.security import (
    EndpointIdentification,
    KafkaSecurity,
    SaslMechanism,
    SaslSettings,
    SecurityProtocol,
    TlsSettings,
)
from pipeline.settings import Settings

pytestmark = pytest.mark.unit

K = "THREADWEAVER_KAFKA_"
PASSWORD = "s3cr3t-pa55"
KEY_PASSWORD = "k3y-pa55"

MUTUAL_TLS = {
    K + "SECURITY_PROTOCOL": "SSL",
    K + "SSL_CA_LOCATION": "/etc/threadweaver/kafka-ca/ca.crt",
    K + "SSL_CERTIFICATE_LOCATION": "/etc/threadweaver/kafka-user/user.crt",
    K + "SSL_KEY_LOCATION": "/etc/threadweaver/kafka-user/user.key",
}
SCRAM = {
    K + "SECURITY_PROTOCOL": "SASL_SSL",
    K + "SSL_CA_LOCATION": "/etc/threadweaver/kafka-ca/ca.crt",
    K + "SASL_USERNAME": "threadweaver-api",
    K + "SASL_PASSWORD": PASSWORD,
}


def test_plaintext_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.kafka.security == KafkaSecurity(SecurityProtocol.PLAINTEXT, None, None)
    assert settings.kafka.bootstrap_servers == settings.bootstrap_servers
    assert settings.kafka.security == settings.kafka_security.value


def test_mutual_tls() -> None:
    security = Settings.from_env(MUTUAL_TLS).kafka.security
    assert security == KafkaSecurity(
        SecurityProtocol.SSL,
        tls=TlsSettings(
            ca_location="/etc/threadweaver/kafka-ca/ca.crt",
            certificate_location="/etc/threadweaver/kafka-user/user.crt",
            key_location="/etc/threadweaver/kafka-user/user.key",
            endpoint_identification=EndpointIdentification.HTTPS,
        ),
    )


def test_scram_over_tls_defaults_to_sha_512() -> None:
    security = Settings.from_env(SCRAM).kafka.security
    assert security.protocol is SecurityProtocol.SASL_SSL
    assert security.sasl == SaslSettings("threadweaver-api", password=SecretStr(PASSWORD))
    assert security.sasl.mechanism is SaslMechanism.SCRAM_SHA_512
    assert security.tls == TlsSettings(ca_location="/etc/threadweaver/kafka-ca/ca.crt")


def test_names_and_choices_are_case_insensitive() -> None:
    env = {
        **SCRAM,
        K + "SECURITY_PROTOCOL": "sasl_ssl",
        K + "SASL_MECHANISM": "scram-sha-256",
        K + "SSL_ENDPOINT_IDENTIFICATION": "NONE",
    }
    security = Settings.from_env(env).kafka.security
    assert security.protocol is SecurityProtocol.SASL_SSL
    assert security.sasl is not None
    assert security.sasl.mechanism is SaslMechanism.SCRAM_SHA_256
    assert security.tls is not None
    assert security.tls.endpoint_identification is EndpointIdentification.NONE


def test_blank_values_count_as_unset() -> None:
    env = {K + "SECURITY_PROTOCOL": "", K + "SSL_CA_LOCATION": "", K + "SASL_USERNAME": ""}
    assert Settings.from_env(env).kafka.security == KafkaSecurity()


@pytest.mark.parametrize(
    "env",
    [
        {},
        MUTUAL_TLS,
        {
            **MUTUAL_TLS,
            K + "SSL_KEY_PASSWORD": KEY_PASSWORD,
            K + "SSL_ENDPOINT_IDENTIFICATION": "none",
        },
        SCRAM,
        {**SCRAM, K + "SASL_MECHANISM": "SCRAM-SHA-256"},
        {
            K + "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            K + "SASL_USERNAME": "u",
            K + "SASL_PASSWORD_FILE": "/run/secrets/kafka-password",
        },
    ],
    ids=["plaintext", "mtls", "mtls-key-password", "scram", "scram-256", "sasl-plaintext-file"],
)
def test_to_env_reproduces_the_settings(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert Settings.from_env(settings.to_env()) == settings


def test_a_password_file_is_passed_on_by_name_not_by_content() -> None:
    env = {**SCRAM, K + "SASL_PASSWORD_FILE": "/etc/threadweaver/kafka-user/password"}
    del env[K + "SASL_PASSWORD"]
    out = Settings.from_env(env).to_env()
    assert out[K + "SASL_PASSWORD_FILE"] == "/etc/threadweaver/kafka-user/password"
    assert K + "SASL_PASSWORD" not in out


def test_secrets_never_show_in_reprs() -> None:
    env = {**SCRAM, K + "SSL_CERTIFICATE_LOCATION": "/c", K + "SSL_KEY_LOCATION": "/k"}
    settings = Settings.from_env({**env, K + "SSL_KEY_PASSWORD": KEY_PASSWORD})
    for text in (repr(settings), str(settings), f"{settings.kafka}", repr(settings.kafka_security)):
        assert PASSWORD not in text
        assert KEY_PASSWORD not in text
    assert settings.kafka.security.sasl is not None
    assert settings.kafka.security.sasl.password is not None
    assert settings.kafka.security.sasl.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({K + "SECURITY_PROTOCOL": "TLS"}, f"{K}SECURITY_PROTOCOL must be one of PLAINTEXT, SSL"),
        (
            {K + "SECURITY_PROTOCOL": "SSL", K + "SSL_CERTIFICATE_LOCATION": "/c"},
            f"{K}SSL_KEY_LOCATION is required with {K}SSL_CERTIFICATE_LOCATION",
        ),
        (
            {K + "SECURITY_PROTOCOL": "SSL", K + "SSL_KEY_LOCATION": "/k"},
            f"{K}SSL_CERTIFICATE_LOCATION is required with {K}SSL_KEY_LOCATION",
        ),
        (
            {K + "SECURITY_PROTOCOL": "SSL", K + "SSL_KEY_PASSWORD": KEY_PASSWORD},
            f"{K}SSL_KEY_PASSWORD is set without {K}SSL_KEY_LOCATION",
        ),
        (
            {**MUTUAL_TLS, K + "SSL_ENDPOINT_IDENTIFICATION": "hostname"},
            f"{K}SSL_ENDPOINT_IDENTIFICATION must be one of https, none",
        ),
        (
            {K + "SECURITY_PROTOCOL": "SASL_SSL", K + "SASL_PASSWORD": PASSWORD},
            f"{K}SASL_USERNAME is required with {K}SECURITY_PROTOCOL=SASL_SSL",
        ),
        (
            {K + "SECURITY_PROTOCOL": "SASL_PLAINTEXT", K + "SASL_USERNAME": "u"},
            f"{K}SASL_PASSWORD or {K}SASL_PASSWORD_FILE is required",
        ),
        (
            {**SCRAM, K + "SASL_PASSWORD_FILE": "/p"},
            f"set only one of {K}SASL_PASSWORD and {K}SASL_PASSWORD_FILE",
        ),
        (
            {**SCRAM, K + "SASL_MECHANISM": "PLAIN"},
            f"{K}SASL_MECHANISM must be one of SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        # A TLS or SASL setting the protocol would ignore is a mistake, not a no-op.
        (
            {K + "SSL_CA_LOCATION": "/ca"},
            f"{K}SSL_CA_LOCATION is set but {K}SECURITY_PROTOCOL is PLAINTEXT",
        ),
        (
            {**MUTUAL_TLS, K + "SASL_USERNAME": "u"},
            f"{K}SASL_USERNAME is set but {K}SECURITY_PROTOCOL is SSL",
        ),
        (
            {**SCRAM, K + "SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
            f"{K}SSL_CA_LOCATION is set but {K}SECURITY_PROTOCOL is SASL_PLAINTEXT",
        ),
    ],
)
def test_bad_combinations_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Settings.from_env(env)
    assert PASSWORD not in str(caught.value)
    assert KEY_PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: KafkaSecurity(SecurityProtocol.SSL),
        lambda: KafkaSecurity(SecurityProtocol.PLAINTEXT, tls=TlsSettings()),
        lambda: KafkaSecurity(SecurityProtocol.SASL_SSL, tls=TlsSettings()),
        lambda: KafkaSecurity(SecurityProtocol.PLAINTEXT, sasl=SaslSettings("u", SecretStr("p"))),
        lambda: TlsSettings(certificate_location="/c"),
        lambda: TlsSettings(key_password=SecretStr("p")),
        lambda: SaslSettings("u"),
        lambda: SaslSettings("u", SecretStr("p"), password_file="/p"),
    ],
)
def test_the_model_refuses_inconsistent_values(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        build()
