"""Mutual TLS between Sentra's services (an option; `sentra up --mtls`).

A private CA signs one certificate per service whose subject alternative name is the
service's name (`retrieval`, `inference`…). A server requires a client certificate from
the same CA; a client checks that the server's certificate names the service it meant
to reach (the target name is overridden with the service's name, so addresses do not
matter). Assertions still say *who* the call is for; TLS keeps them from being read or
replayed on the wire.

`generate_certificates` writes the CA and the services' keys (mode 0600) under one
directory; in Kubernetes they are Secrets.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel

CERT_VALIDITY_DAYS = 365


class TlsSettings(BaseModel):
    """Mutual TLS for a service's internal gRPC (server and outbound channels). Off unless
    all three files are set."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.ca_file and self.cert_file and self.key_file)

    def material(self) -> TlsMaterial | None:
        if not self.enabled:
            return None
        try:
            return TlsMaterial(
                ca=Path(self.ca_file).read_bytes(), cert=Path(self.cert_file).read_bytes(),
                key=Path(self.key_file).read_bytes(),
            )
        except OSError as exc:
            raise ValueError(f"cannot read the TLS files: {exc.strerror} ({exc.filename})") from None


@dataclass(frozen=True)
class TlsMaterial:
    ca: bytes
    cert: bytes
    key: bytes

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca,
                                           require_client_auth=True)

    def channel(self) -> ChannelTls:
        return ChannelTls(self)


@dataclass(frozen=True)
class ChannelTls:
    material: TlsMaterial

    def credentials(self) -> grpc.ChannelCredentials:
        m = self.material
        return grpc.ssl_channel_credentials(root_certificates=m.ca, private_key=m.key, certificate_chain=m.cert)

    @staticmethod
    def options(audience: str) -> list[tuple[str, str]]:
        # The server must present the certificate of the service we mean to call.
        return [("grpc.ssl_target_name_override", audience)]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate_certificates(directory: Path, services: list[str]) -> Path:
    """Write `ca.crt`/`ca.key` (once) and `<service>.crt`/`<service>.key` for each service
    missing one; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    now = datetime.datetime.now(datetime.UTC)
    ca_cert_path, ca_key_path = directory / "ca.crt", directory / "ca.key"
    if not ca_key_path.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sentra internal CA")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _pem_key(ca_key))
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    for service in services:
        cert_path, key_path = directory / f"{service}.crt", directory / f"{service}.key"
        if cert_path.exists() and key_path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(service)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(key_path, _pem_key(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return directory
