"""The proxy's upstream TLS: one handshake per exchange, whose facts are the ones recorded.

The handshake itself accepts any certificate (CERT_NONE), so that an origin with an untrusted
or expired certificate is still captured as it is; the chain that same handshake presented is
then validated offline with cryptography's X.509 path builder (RFC 5280 plus the Web PKI
profile) against the system roots or `--ca-file`, and the verdict is recorded beside the
records. A separate connection made to fetch the certificate (Scoop does this) could meet a
different server or certificate; this cannot.

WARC 1.1 has no field for the protocol or cipher: `WARC-Protocol` (one header per protocol,
ALPN ids and `tls/1.3`) and `WARC-Cipher-Suite` are the IIPC proposals in
iipc/warc-specifications #42 and #86, in use by wget-at, Browsertrix, StormCrawler.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification

# Python's names for the versions -> the proposal's WARC-Protocol values
PROTOCOL_IDS = {"TLSv1": "tls/1.0", "TLSv1.1": "tls/1.1", "TLSv1.2": "tls/1.2",
                "TLSv1.3": "tls/1.3"}


@dataclass
class TlsFacts:
    """What one upstream handshake showed."""

    host: str
    port: int
    version: str  # "TLSv1.3"
    cipher: str  # OpenSSL's name; for TLS 1.3 suites it is the IANA name
    alpn: str | None
    chain: list[x509.Certificate] = field(default_factory=list)
    validation: str = "not checked"  # "valid" or "untrusted: <reason>"

    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                       for c in self.chain)

    def warc_headers(self) -> list[tuple[str, str]]:
        out = [("WARC-Protocol", self.alpn or "http/1.1")]
        out.append(("WARC-Protocol", PROTOCOL_IDS.get(self.version, self.version.lower())))
        out.append(("WARC-Cipher-Suite", self.cipher))
        return out

    def certificates(self) -> list[dict[str, Any]]:
        return [{"subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string(),
                 "not_before": c.not_valid_before_utc.isoformat(),
                 "not_after": c.not_valid_after_utc.isoformat(),
                 "serial": format(c.serial_number, "x")} for c in self.chain]

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "version": self.version,
                "cipher": self.cipher, "alpn": self.alpn, "validation": self.validation,
                "certificates": self.certificates()}


@cache
def _load_roots(ca_file: str | None) -> tuple[x509.Certificate, ...]:
    """Trust anchors: the file given, else the system bundle OpenSSL uses."""
    path = ca_file or ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    try:
        with warnings.catch_warnings():  # a system root with a negative serial: still a root
            warnings.simplefilter("ignore")
            return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except (OSError, ValueError):
        return ()


def roots(ca_file: Path | None) -> tuple[x509.Certificate, ...]:
    return _load_roots(str(ca_file) if ca_file else None)


def validate(chain: list[x509.Certificate], host: str,
             anchors: tuple[x509.Certificate, ...]) -> str:
    """"valid", or "untrusted: <why>" for the chain a server presented for `host`."""
    if not chain:
        return "untrusted: no certificate presented"
    if not anchors:
        return "untrusted: no trust anchors could be read"
    try:
        subject: Any = verification.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = verification.DNSName(host)
    verifier = (verification.PolicyBuilder().store(verification.Store(list(anchors)))
                .time(dt.datetime.now(dt.UTC)).build_server_verifier(subject))
    try:
        verifier.verify(chain[0], chain[1:])
    except verification.VerificationError as exc:
        return f"untrusted: {exc}"
    return "valid"


def client_context() -> ssl.SSLContext:
    """Accept any certificate in the handshake (validated afterwards, see the module doc);
    offer only HTTP/1.1, the protocol the recorder stores."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def handshake(sock: socket.socket, host: str, port: int,
              anchors: tuple[x509.Certificate, ...]) -> tuple[ssl.SSLSocket, TlsFacts]:
    server_name = None if _is_ip(host) else host
    tls = client_context().wrap_socket(sock, server_hostname=server_name)
    try:
        cipher = tls.cipher()
        facts = TlsFacts(host, port, tls.version() or "", cipher[0] if cipher else "",
                         tls.selected_alpn_protocol())
        # The chain as presented in this handshake. Python 3.13 has get_unverified_chain();
        # in 3.11/3.12 the same call is on the C object behind the socket.
        getter = getattr(tls, "get_unverified_chain", None) or tls._sslobj.get_unverified_chain  # type: ignore[attr-defined]
        certs = getter() or []
        facts.chain = [x509.load_der_x509_certificate(_der(c)) for c in certs]
        facts.validation = validate(facts.chain, host, anchors)
    except BaseException:
        # wrap_socket detached `sock`: the caller's close of it no longer closes the
        # connection (a certificate cryptography cannot parse raised ValueError here)
        tls.close()
        raise
    return tls, facts


def _der(cert: Any) -> bytes:
    if isinstance(cert, bytes):
        return cert
    return bytes(cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
