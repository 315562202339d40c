"""Throwaway X.509 for tests (made with `cryptography`): a CA, and certificates it signs for a
server (subject alternative names) or a client (clientAuth).

    ca_cert, ca_key = make_ca("test CA")
    cert, key = make_leaf(ca_cert, ca_key, "server", sans=[x509.IPAddress(...)])
    ca_pem, cert_pem, key_pem = write_pki(directory, "test", sans=..., client=False)
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (builder.serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)))


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA valid from an hour ago for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder()).subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_leaf(ca_cert: x509.Certificate, ca_key, cn: str, sans: list | None = None,
              client: bool = False) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate `ca` signs: for a server with `sans` (x509.DNSName / x509.IPAddress), or,
    with `client`, for a client (extended key usage clientAuth)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_validity(x509.CertificateBuilder()).subject_name(_name(cn))
               .issuer_name(ca_cert.subject).public_key(key.public_key()))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_pki(directory: Path, name: str, sans: list | None = None, client: bool = False,
              files: tuple[str, str, str] = ("ca.pem", "tls.crt", "tls.key")
              ) -> tuple[Path, Path, Path]:
    """A new CA and one certificate it signed (see make_leaf), written to `files` in
    `directory` (CA, certificate, key); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca(f"{name} CA")
    cert, key = make_leaf(ca_cert, ca_key, name, sans=sans, client=client)
    paths = tuple(directory / f for f in files)
    paths[0].write_bytes(cert_pem(ca_cert))
    paths[1].write_bytes(cert_pem(cert))
    paths[2].write_bytes(key_pem(key))
    return paths  # type: ignore[return-value]
