"""RFC 3161 time-stamp tokens, verified offline, one named step per function.

One checker for every token archiver meets: a TSA's fresh reply (`archiver timestamp`,
archiver.store.timestamps, before storing it), the archive's tokens over chain heads (`archiver
audit`, archiver.check.timestamps), those tokens inside an exported package and a signed WACZ's
`timeSignature` (`archiver verify`, archiver.check.wacz_verify; `export wacz --sign` checks its
reply with it too). It lives in store, beside signing and checkpoints, so that the request
path can use it as well as the checks above it. Each caller runs
the steps in this order and names the first (audit) or every (verify) failure its own way:

  parse            the bytes are a DER TimeStampResp (RFC 3161 §2.4.2)       parse / TokenError
  status           PKIStatus granted (grantedWithMods refused: rfc3161-client
                   verifies granted tokens only)                             status_problem
  imprint          messageImprint is the digest of the message               imprint_problem
  nonce            the nonce our request sent is echoed                      nonce_problem
  signer           the certificate SignerInfo names by issuer + serial        signer_certificate
  EKU              extendedKeyUsage critical and id-kp-timeStamping alone    eku_problem
                   (RFC 3161 §2.3: "only one instance of the extended key usage field
                   extension ... with KeyPurposeID having value id-kp-timeStamping. This
                   extension MUST be critical.")
  validity         the signer certificate valid at genTime                   validity_problem
  chain            a path to a root the user named, valid at genTime         build_chain
  signature        the CMS signature over the TSTInfo                        signature_problem

Parsing and the CMS signature are rfc3161-client's (Rust ASN.1, OpenSSL PKCS7_verify at
genTime); certificates and the path are cryptography's. No DER by hand.

Why the steps are split from rfc3161-client's single Verifier.verify: every failure of its
OpenSSL call reads "Error while verifying certificates" (so validity, chain and signature are
told apart here), it treats every certificate it is given as an anchor, intermediates
included (so the path is built first, to named roots only, and the library is handed that
path alone), and its EKU check accepts other purposes beside timeStamping. Not checked,
offline: revocation (CRL/OCSP) and the ESS signingCertificate attribute.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)
from cryptography.x509.verification import (
    VerificationError as PathError,
)
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

IMPRINT_HASHES = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}


class TokenError(ValueError):
    """The bytes are not a TimeStampResp rfc3161-client can read (truncated, edited, other)."""


def parse(der: bytes) -> TimeStampResponse:
    """A TimeStampResp, or TokenError. The Rust parser raises ValueError for bad DER, and a
    panic (a BaseException) is not impossible on hostile input: both are a finding, never a
    traceback. A granted reply must carry a readable TSTInfo."""
    try:
        resp = decode_timestamp_response(der)
        if int(resp.status) in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            gen_time(resp)
        return resp
    except (ValueError, TypeError) as exc:
        raise TokenError(f"not a readable RFC 3161 TimeStampResp ({str(exc)[:120]})") from exc
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise TokenError(f"not a readable RFC 3161 TimeStampResp ({type(exc).__name__})") from exc


def status_name(resp: TimeStampResponse) -> str:
    """PKIStatus as RFC 3161 §2.4.2 names it (an unknown number as itself)."""
    try:
        return PKIStatus(resp.status).name.lower()
    except ValueError:
        return f"unknown status {resp.status}"


def status_problem(resp: TimeStampResponse) -> str:
    """'' when the TSA granted the token."""
    if int(resp.status) == PKIStatus.GRANTED:
        return ""
    return f"status {status_name(resp)}, not granted"


def gen_time(resp: TimeStampResponse) -> datetime:
    t = resp.tst_info.gen_time
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def imprint_algorithm(resp: TimeStampResponse) -> str:
    """The imprint's hash name (sha256...), or its OID when unsupported."""
    oid = resp.tst_info.message_imprint.hash_algorithm.dotted_string
    algo = IMPRINT_HASHES.get(oid)
    return algo().name if algo else oid


def imprint_problem(resp: TimeStampResponse, message: bytes) -> str:
    """'' when messageImprint is the digest of `message` (RFC 3161 §2.4.2)."""
    imprint = resp.tst_info.message_imprint
    algo = IMPRINT_HASHES.get(imprint.hash_algorithm.dotted_string)
    if algo is None:
        return f"unsupported imprint hash algorithm {imprint.hash_algorithm.dotted_string}"
    if algo(message).digest() != imprint.message:
        return f"the {algo().name} imprint is not the digest of this message"
    return ""


def nonce_problem(resp: TimeStampResponse, nonce: int | str) -> str:
    """'' when the token echoes the nonce the request sent (RFC 3161 §2.4.2)."""
    if str(resp.tst_info.nonce) == str(nonce):
        return ""
    return f"the token's nonce {resp.tst_info.nonce} is not the one requested ({nonce})"


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
                       presented: list[x509.Certificate] | None = None
                       ) -> x509.Certificate | None:
    """The certificate the one SignerInfo names (issuer + serial, covered by the signature),
    among the token's own certificates and those presented beside it (a WACZ's
    timestampCert)."""
    infos = list(resp.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    info = infos[0]
    for cert in [*token_certificates(resp), *(presented or [])]:
        if cert.issuer == info.issuer and cert.serial_number == info.serial_number:
            return cert
    return None


def eku_problem(cert: x509.Certificate) -> str:
    """'' when extendedKeyUsage is critical and exactly id-kp-timeStamping (RFC 3161 §2.3);
    else what is wrong, as a predicate of "the TSA certificate"."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "has no extendedKeyUsage extension (id-kp-timeStamping is required)"
    if not ext.critical:
        return "has an extendedKeyUsage extension that is not marked critical"
    if list(ext.value) != [x509.ExtendedKeyUsageOID.TIME_STAMPING]:
        return "has an extendedKeyUsage other than id-kp-timeStamping alone"
    return ""


def validity_problem(cert: x509.Certificate, when: datetime) -> str:
    """'' when `cert` was within its validity at `when` (genTime)."""
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if before <= when <= after:
        return ""
    return f"was valid {iso(before)} to {iso(after)}, not at genTime {iso(when)}"


def build_chain(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                roots: list[x509.Certificate],
                when: datetime) -> tuple[list[x509.Certificate] | None, str]:
    """(leaf ... root, '') for a path to one of `roots` valid at `when`, else (None, why).
    cryptography's RFC 5280 path builder, the Web PKI CA profile for issuers and no
    end-entity profile (a TSA certificate is not a TLS client: eku_problem judges its EKU;
    a WACZ's domain certificate may carry any EKU).
    A leaf itself in `roots` is a pin, not a root: refused (name the CA that issued it)."""
    if not roots:
        return None, "no roots given"
    verifier = (PolicyBuilder().store(Store(roots)).time(when)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    try:
        path = list(verifier.verify(leaf, intermediates).chain)
    except PathError as exc:
        return None, str(exc).split(" (encountered")[0].removeprefix("validation failed: ")
    if len(path) < 2:
        return None, "the certificate is itself a trust root: name the CA that issued it"
    return path, ""


def signature_problem(resp: TimeStampResponse, signer: x509.Certificate,
                      intermediates: list[x509.Certificate],
                      roots: list[x509.Certificate]) -> str:
    """'' when the CMS signature verifies (rfc3161-client: OpenSSL PKCS7_verify at genTime),
    trusting `roots` only. Self-issued certificates are never used as intermediates (OpenSSL
    without PARTIAL_CHAIN needs a self-signed anchor, and only a root given may be one). The
    imprint is judged by imprint_problem: the library is handed the token's own digest, so a
    failure here is about the signature or the path, not the data."""
    if not roots:
        return "no root certificate to verify against"
    seen = {signer.public_bytes(Encoding.DER)}
    middle, anchors = [], []
    for cert in intermediates:
        der = cert.public_bytes(Encoding.DER)
        if der not in seen and not self_issued(cert):
            seen.add(der)
            middle.append(cert)
    for cert in roots:
        der = cert.public_bytes(Encoding.DER)
        if der not in seen:
            seen.add(der)
            anchors.append(cert)
    builder = VerifierBuilder(tsa_certificate=signer, intermediates=middle, roots=anchors)
    try:
        builder.build().verify(resp, resp.tst_info.message_imprint.message)
    except (VerificationError, ValueError, x509.InvalidVersion) as exc:
        # the library loads the token's certificates itself: a damaged one raises here
        return (str(exc) or type(exc).__name__)[:200]
    return ""


def self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def presented_root(signer: x509.Certificate,
                   presented: list[x509.Certificate]) -> x509.Certificate | None:
    """The self-signed certificate at the top of what the TSA presented (or the signer itself
    when self-signed): used only to tell a broken signature from an untrusted root."""
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


def trust_problem(resp: TimeStampResponse, signer: x509.Certificate,
                  presented: list[x509.Certificate], roots: list[x509.Certificate],
                  when: datetime) -> tuple[str, str, list[x509.Certificate] | None]:
    """The trust steps after the EKU, in order: (step, why, None) for the first that fails,
    step one of "validity", "chain", "signature"; ('', '', path) when all pass."""
    problem = validity_problem(signer, when)
    if problem:
        return "validity", problem, None
    path, why = build_chain(signer, [c for c in presented if c != signer], roots, when)
    if path is None:
        return "chain", why, None
    problem = signature_problem(resp, signer, path[1:-1], [path[-1]])
    if problem:
        return "signature", problem, None
    return "", "", path


def subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
