"""A test certificate authority for signed-WACZ tests: a root and domain certificates made
with `cryptography`, shaped like the Web PKI's (critical basicConstraints and keyUsage, key
identifiers, a subjectAltName, serverAuth), so chain checks judge them as real ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archiver tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem_key(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class LocalCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, cn: str = "WACZ Test Root CA") -> LocalCA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=2))
                .not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def issue(self, domain: str, *, rsa_key: bool = False, days: int = 90,
              start: datetime | None = None) -> tuple[Any, x509.Certificate]:
        key: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key
                    else ec.generate_private_key(ec.SECP256R1()))
        start = start or datetime.now(UTC) - timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(_name(domain))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))
        return key, cert

    def write_domain(self, folder: Path, domain: str, **kwargs: Any) -> tuple[Path, Path]:
        """(chain PEM leaf first, key PEM) for `domain`, written into `folder`."""
        key, cert = self.issue(domain, **kwargs)
        folder.mkdir(parents=True, exist_ok=True)
        chain, key_path = folder / f"{domain}.pem", folder / f"{domain}.key"
        chain.write_bytes(pem_cert(cert) + pem_cert(self.cert))
        key_path.write_bytes(pem_key(key))
        return chain, key_path
