"""A throw-away certificate authority in PEM files, like the ones Strimzi mounts: the cluster
CA's `ca.crt`, a KafkaUser's `user.crt` / `user.key`, and a certificate for a local broker."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=1)
Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    certificate: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: Key, path: Path, password: bytes | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password is not None
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def _write_certificate(certificate: x509.Certificate, path: Path) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


class CertificateAuthority:
    def __init__(self, directory: Path, name: str = "threadweaver-test-ca") -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(name)
        now = datetime.datetime.now(datetime.UTC)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = _write_certificate(self._certificate, directory / f"{name}.crt")

    def _issue(
        self,
        common_name: str,
        usage: x509.ObjectIdentifier,
        names: list[x509.GeneralName],
        password: bytes | None,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        folder = self.directory / common_name
        folder.mkdir(exist_ok=True)
        return Issued(
            certificate=_write_certificate(certificate, folder / "user.crt"),
            key=_write_key(key, folder / "user.key", password),
        )

    def client(self, user: str, password: bytes | None = None) -> Issued:
        """A KafkaUser's certificate (Strimzi: CN = the user's name)."""
        return self._issue(user, ExtendedKeyUsageOID.CLIENT_AUTH, [], password)

    def server(self, host: str = "127.0.0.1") -> Issued:
        """A broker certificate valid for `host` (an IP address or a DNS name)."""
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        return self._issue(f"broker-{host}", ExtendedKeyUsageOID.SERVER_AUTH, [name], None)
