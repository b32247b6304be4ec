"""The per-run certificate authority the recording proxy signs leaf certificates with.

The browser's TLS ends at the proxy, so the proxy must present a certificate for each host.
The CA and its key live in memory only, for one run, and only the Chromium that run starts
trusts it: through `--ignore-certificate-errors-spki-list`, which names the SHA-256 of the
SubjectPublicKeyInfo of the keys Chromium should accept (RFC 7469's pin format). Every leaf
of one run shares one key, so one pin covers every host.

Also used by the tests to make a test CA for an HTTPS origin.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=2)  # a run's CA never needs to outlive the run


def spki_sha256_b64(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archiver"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Authority:
    """A CA certificate and key; `leaf(host)` issues (and caches) a server certificate."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    leaf_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str = "archiver capture proxy CA") -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder()
                .subject_name(_name(common_name)).issuer_name(_name(common_name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False),
                    critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key, ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        self._leaves: dict[str, tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    @property
    def pins(self) -> list[str]:
        """SPKI pins for Chromium: the CA's key and the shared leaf key."""
        leaf_spki = self.leaf_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return [spki_sha256_b64(self.cert),
                base64.b64encode(hashlib.sha256(leaf_spki).digest()).decode("ascii")]

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def leaf(self, host: str) -> tuple[bytes, bytes]:
        """(certificate chain PEM, key PEM) for `host`, made once per run."""
        with self._lock:
            if host not in self._leaves:
                self._leaves[host] = self._issue(host)
            return self._leaves[host]

    def _issue(self, host: str) -> tuple[bytes, bytes]:
        now = dt.datetime.now(dt.UTC)
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        public = self.leaf_key.public_key()
        cert = (x509.CertificateBuilder()
                .subject_name(_name(host)).issuer_name(self.cert.subject)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + VALIDITY)
                .add_extension(x509.SubjectAlternativeName([san]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.cert_pem()
        key = self.leaf_key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        return chain, key
