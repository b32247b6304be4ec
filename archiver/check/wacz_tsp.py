"""RFC 3161 time-stamp responses as a signed WACZ carries them (`timeSignature`), read and
verified offline.

A WACZ's `timeSignature` is a TSA's whole TimeStampResp (RFC 3161 §2.4.2), base64, over the
`signature` string of the package (WACZ Signing and Verification 0.1.0, "Domain-Name Identity +
Timestamp"). Parsing and the CMS signature check are rfc3161-client's (Trail of Bits: Rust
ASN.1 and OpenSSL's PKCS7_verify at genTime); certificates are cryptography's. No DER by hand.

What each function judges is one named step, so `archiver verify` can say which one failed:
the reply parses, its status, the imprint, the signer certificate (SignerInfo issuer + serial)
and its critical id-kp-timeStamping EKU (RFC 3161 §2.3), the signature with the certificates
presented, and the chain to roots the user chose, valid at genTime.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
IMPRINT_HASHES = {
    SHA256_OID: hashlib.sha256,
    x509.ObjectIdentifier("2.16.840.1.101.3.4.2.2"): hashlib.sha384,
    x509.ObjectIdentifier("2.16.840.1.101.3.4.2.3"): hashlib.sha512,
}


class TokenError(ValueError):
    """The bytes are not a TimeStampResp rfc3161-client can read (truncated, edited, other)."""


def load_response(der: bytes) -> TimeStampResponse:
    """Parse a TimeStampResp; TokenError for anything unreadable. The Rust parser raises
    ValueError for bad DER, and a panic (a BaseException) is not impossible on hostile input:
    both are a finding here, never a traceback."""
    try:
        resp = decode_timestamp_response(der)
        if int(resp.status) in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            gen_time(resp)  # a granted reply must carry a readable TSTInfo
        return resp
    except (ValueError, TypeError) as exc:
        raise TokenError(f"not a readable RFC 3161 TimeStampResp ({exc})") from exc
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise TokenError(f"not a readable RFC 3161 TimeStampResp ({type(exc).__name__})") from exc


def status_name(resp: TimeStampResponse) -> str:
    try:
        return PKIStatus(resp.status).name.lower()
    except ValueError:
        return f"unknown status {resp.status}"


def granted(resp: TimeStampResponse) -> bool:
    return int(resp.status) == PKIStatus.GRANTED


def gen_time(resp: TimeStampResponse) -> datetime:
    t = resp.tst_info.gen_time
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def imprint_matches(resp: TimeStampResponse, message: bytes) -> tuple[bool, str]:
    """(whether the token's message imprint is the digest of `message`, the algorithm)."""
    imprint = resp.tst_info.message_imprint
    algo = IMPRINT_HASHES.get(imprint.hash_algorithm)
    if algo is None:
        return False, f"unsupported hash algorithm {imprint.hash_algorithm.dotted_string}"
    name = algo().name
    return algo(message).digest() == imprint.message, name


def token_certificates(resp: TimeStampResponse) -> list[x509.Certificate]:
    """The certificates the token carries (certReq true): presented, never trusted."""
    out = []
    for der in resp.signed_data.certificates:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except (ValueError, x509.InvalidVersion):  # a damaged certificate is no certificate
            continue
    return out


def signer_certificate(resp: TimeStampResponse,
                       presented: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate SignerInfo names (issuer + serial, covered by the signature), among the
    token's own certificates and those presented beside it (a WACZ's timestampCert)."""
    infos = list(resp.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    info = infos[0]
    for cert in [*token_certificates(resp), *presented]:
        if cert.issuer == info.issuer and cert.serial_number == info.serial_number:
            return cert
    return None


def eku_problem(cert: x509.Certificate) -> str | None:
    """RFC 3161 §2.3: the TSA certificate has exactly one extendedKeyUsage, id-kp-timeStamping,
    and the extension is critical."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "the TSA certificate has no extendedKeyUsage (id-kp-timeStamping required)"
    if x509.ExtendedKeyUsageOID.TIME_STAMPING not in eku.value:
        return "the TSA certificate's extendedKeyUsage lacks id-kp-timeStamping"
    if not eku.critical:
        return "the TSA certificate's extendedKeyUsage is not critical"
    return None


def self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


@dataclass(frozen=True)
class SignatureOutcome:
    ok: bool
    detail: str


def verify_signature(resp: TimeStampResponse, signer: x509.Certificate,
                     presented: list[x509.Certificate],
                     roots: list[x509.Certificate]) -> SignatureOutcome:
    """rfc3161-client's verification (status, CMS signature, chain at genTime, EKU) with
    `roots` as the only trust anchors. The presented certificates that are not
    self-issued serve as intermediates: OpenSSL without X509_V_FLAG_PARTIAL_CHAIN needs a
    self-signed anchor, so only a root in `roots` can end the chain."""
    if not roots:
        return SignatureOutcome(False, "no root certificate to verify against")
    builder = VerifierBuilder(tsa_certificate=signer)
    seen: set[bytes] = {signer.public_bytes(Encoding.DER)}
    for cert in presented:
        der = cert.public_bytes(Encoding.DER)
        if der not in seen and not self_issued(cert):
            seen.add(der)
            builder = builder.add_intermediate_certificate(cert)
    for root in roots:
        der = root.public_bytes(Encoding.DER)
        if der not in seen:
            seen.add(der)
            builder = builder.add_root_certificate(root)
    try:
        # The imprint is judged on its own (imprint_matches): hand the library the token's
        # own digest, so a failure here is about the signature or the chain, not the data.
        builder.build().verify(resp, resp.tst_info.message_imprint.message)
    except (VerificationError, ValueError, x509.InvalidVersion) as exc:
        # the library loads the token's certificates itself: a damaged one raises here
        return SignatureOutcome(False, str(exc) or type(exc).__name__)
    return SignatureOutcome(True, "")


def presented_root(signer: x509.Certificate,
                   presented: list[x509.Certificate]) -> x509.Certificate | None:
    """The self-signed certificate at the top of what the TSA presented (or the signer itself
    when self-signed): used only to tell a bad signature from an untrusted root."""
    by_subject = {c.subject: c for c in presented}
    cert = signer
    for _ in range(8):
        if self_issued(cert):
            return cert
        issuer = by_subject.get(cert.issuer)
        if issuer is None or issuer is cert:
            return None
        cert = issuer
    return None
