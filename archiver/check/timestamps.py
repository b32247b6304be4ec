"""Offline verification of the RFC 3161 tokens over chain heads (see archiver.store.timestamps).

Every token is checked step by step, and the first step that fails is the finding, named:

  1 tsa-token-unreadable   the stored file is missing or is not a DER TimeStampResp
  2 tsa-not-granted        PKIStatus is not granted (RFC 3161 §2.4.2; grantedWithMods is
                           refused too: rfc3161-client verifies granted tokens only)
  3 tsa-head-missing /     the seq the token names is not in the chain, or has another hash
    tsa-head-mismatch      (history rewritten, or a token for another archive's head)
  4 tsa-imprint-mismatch   messageImprint is not the digest of the head message (and, for a
    tsa-renewal-mismatch   renewal, the renewed token's bytes are not the ones it covered)
  5 tsa-nonce-mismatch     the nonce is not the one our request sent (recorded in the event)
  6 tsa-record-mismatch    the event's genTime differs from the token's
  7 tsa-signer-missing     no embedded certificate matches SignerInfo's issuer + serial
  8 tsa-eku                the signer certificate's extendedKeyUsage is absent, not critical,
                           or not exactly id-kp-timeStamping (RFC 3161 §2.3)
  9 tsa-cert-not-valid-at-gentime   the signer certificate was not valid at genTime
 10 tsa-untrusted          no chain from the signer to a root the user named (--tsa-roots),
                           valid at genTime (cryptography's path builder)
 11 tsa-bad-signature      the CMS signature over the TSTInfo does not verify (rfc3161-client,
                           OpenSSL PKCS7_verify at genTime against that chain only)
and, for tokens that pass: tsa-clock-ahead (warning: the head entry's own `at` is more than
10 minutes after genTime: the operator's clock ran ahead of the TSA's), tsa-cert-expired
(error: a certificate of the chain has expired and no renewal made before that expiry covers
the token), tsa-expiring (warning: it expires within 90 days and no renewal covers it).

What rfc3161-client's Verifier does and does not do, and why the steps above are ours:
it checks status, the CMS signature and a chain at genTime in one OpenSSL call whose every
failure reads "Error while verifying certificates" (so steps 9-11 are run separately with
`cryptography`, to say which failed); it trusts every certificate it is given as an anchor,
intermediates included (we give it only the chain already built to a named root); it checks
the EKU (present, critical, timeStamping) only on embedded certificates; it never looks at
a certificate's expiry after genTime, nor at revocation (neither do we: no CRL or OCSP is
fetched offline; say so, do not pretend), nor at the ESS signingCertificate attribute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.base.errors import ArchiverError, UnreadableInputError
from archiver.base.findings import Finding
from archiver.store import timestamps
from archiver.store.archive import Archive

CLOCK_SLACK = timedelta(minutes=10)
EXPIRY_WARNING = timedelta(days=90)
DIGESTS = {"2.16.840.1.101.3.4.2.1": hashlib.sha256, "2.16.840.1.101.3.4.2.2": hashlib.sha384,
           "2.16.840.1.101.3.4.2.3": hashlib.sha512}


def load_roots(paths: Iterable[str | Path]) -> list[Any]:
    """Trust anchors from PEM files (each may hold several certificates). An unreadable file
    is an UnreadableInputError: verifying against fewer roots than the user named would
    report trusted tokens as untrusted."""
    from cryptography import x509

    roots: list[Any] = []
    for p in paths:
        try:
            roots += x509.load_pem_x509_certificates(Path(p).read_bytes())
        except OSError as exc:
            raise UnreadableInputError(f"{p}: cannot read TSA roots: {exc.strerror}") from exc
        except ValueError as exc:
            raise UnreadableInputError(f"{p}: not PEM certificates ({exc})") from exc
    return roots


def roots_from(option: tuple[str, ...] | list[str] | None) -> list[Any] | None:
    """--tsa-roots files, else $ARCHIVER_TSA_ROOTS (os.pathsep-separated); None when the
    user named none."""
    import os

    paths = list(option or []) or [p for p in os.environ.get(timestamps.ENV_ROOTS, "")
                                   .split(os.pathsep) if p]
    return load_roots(paths) if paths else None


@dataclass
class Checked:
    """One token's verification."""

    rec: timestamps.Recorded
    findings: list[Finding] = field(default_factory=list)
    gen_time: datetime | None = None
    subject: str = ""
    expires: datetime | None = None  # the earliest notAfter in its chain
    sha256: str = ""  # of the stored bytes
    trusted: bool = False  # every step passed against a named root

    @property
    def where(self) -> str:
        return self.rec.token

    def fail(self, code: str, message: str, severity: str = "error") -> Checked:
        self.findings.append(Finding(severity, code, self.where,  # type: ignore[arg-type]
                                     f"seq {self.rec.seq}: {message}"))
        return self


@dataclass
class Result:
    findings: list[Finding]
    proofs: list[dict[str, Any]]


def verify(archive: Archive, roots: list[Any] | None, chain: dict[int, str],
           entry_at: dict[int, str], head: int | None = None,
           now: datetime | None = None,
           records: list[timestamps.Recorded] | None = None) -> Result:
    """Check every recorded token (see the module docstring). `chain`: seq -> hash of at least
    every seq a token names; `entry_at`: seq -> the entry's `at`; `head`: the newest seq (for
    the pending note); `now`: the time expiry is judged at (tests move it); `records`: the
    tokens, when the caller has read them already."""
    now = now or datetime.now(UTC)
    records = timestamps.all_recorded(archive) if records is None else records
    if not records:
        return Result([], [])
    checked = [check_token(archive, rec, roots, chain, entry_at) for rec in records]
    findings: list[Finding] = []
    if roots is None:
        findings.append(Finding("warning", "tsa-no-roots", timestamps.FOLDER,
                                f"{len(records)} time-stamp token(s) checked for imprint and "
                                "nonce only: name the TSA roots you trust with --tsa-roots "
                                f"PEM (or ${timestamps.ENV_ROOTS}) to verify their signatures"))
    judge_expiry(checked, now)
    proofs = []
    for c in checked:
        findings += c.findings
        if c.trusted and not any(f.severity == "error" for f in c.findings):
            proofs.append(proof(c))
    newest = max((p["seq"] for p in proofs), default=None)
    if head is not None and newest is not None and head > newest:
        findings.append(Finding("info", "tsa-pending", timestamps.FOLDER,
                                f"entries {newest + 1}..{head} are not yet proven by a "
                                f"time-stamp (newest proof: seq {newest}); run `archiver "
                                "timestamp`"))
    return Result(findings, proofs)


def proof(c: Checked) -> dict[str, Any]:
    assert c.gen_time is not None
    out = {"seq": c.rec.seq, "hash": c.rec.hash, "gen_time": timestamps.iso(c.gen_time),
           "tsa": c.rec.tsa, "tsa_subject": c.subject, "token": c.rec.token,
           "expires": timestamps.iso(c.expires) if c.expires else None}
    if c.rec.renews:
        out["renews"] = c.rec.renews
    return out


def proof_line(p: dict[str, Any]) -> str:
    kind = f" (renewal of {p['renews']})" if p.get("renews") else ""
    return f"seq {p['seq']} existed by {p['gen_time']} ({p['tsa_subject']}){kind}"


def check_token(archive: Archive, rec: timestamps.Recorded, roots: list[Any] | None,
                chain: dict[int, str], entry_at: dict[int, str]) -> Checked:
    from rfc3161_client import PKIStatus, decode_timestamp_response

    c = Checked(rec)
    try:
        der = timestamps.read_token(archive, rec.token)
    except FileNotFoundError:
        return c.fail("tsa-token-unreadable", f"token {rec.token} is missing")
    except OSError as exc:
        return c.fail("tsa-token-unreadable", f"token {rec.token} cannot be read: "
                                              f"{exc.strerror}")
    except ArchiverError as exc:  # a path outside the archive
        return c.fail("tsa-token-unreadable", str(exc))
    c.sha256 = hashlib.sha256(der).hexdigest()
    try:
        resp = decode_timestamp_response(der)
    except ValueError as exc:
        return c.fail("tsa-token-unreadable",
                      f"not a DER TimeStampResp ({str(exc)[:100]}): truncated or edited")
    if resp.status != PKIStatus.GRANTED:
        return c.fail("tsa-not-granted", f"the TSA did not grant this token (status "
                                         f"{timestamps.status_name(resp.status)})")
    actual = chain.get(rec.seq)
    if actual is None:
        return c.fail("tsa-head-missing", "the token names a seq that is not in the chain")
    if actual != rec.hash:
        return c.fail("tsa-head-mismatch", f"the token was made over head {rec.hash}, but "
                                           f"the chain has {actual} at that seq (history "
                                           "rewritten, or another archive's token)")
    info = resp.tst_info
    if rec.renews:
        found = _sha256_of(archive, rec.renews)
        if found != rec.renews_sha256:
            return c.fail("tsa-renewal-mismatch",
                          f"renewal of {rec.renews}, made over sha256 {rec.renews_sha256}, "
                          f"but that token's bytes now hash to {found}")
    hasher = DIGESTS.get(info.message_imprint.hash_algorithm.dotted_string)
    message = timestamps.head_message(rec.seq, actual, rec.renews_sha256 if rec.renews
                                      else None)
    digest = hasher(message).digest() if hasher else b""
    if info.message_imprint.message != digest:
        return c.fail("tsa-imprint-mismatch", "the token's message imprint is not the digest "
                                              "of this head (a token for something else)")
    if str(info.nonce) != rec.nonce:
        return c.fail("tsa-nonce-mismatch", f"the token's nonce {info.nonce} is not the one "
                                            f"requested ({rec.nonce}): a replayed reply")
    c.gen_time = info.gen_time.astimezone(UTC)
    if timestamps.iso(c.gen_time) != rec.gen_time:
        return c.fail("tsa-record-mismatch", f"the event says genTime {rec.gen_time}, the "
                                             f"token says {timestamps.iso(c.gen_time)}")
    _clock(c, entry_at.get(rec.seq))
    if roots is None:
        return c
    return _check_trust(c, resp, roots, digest)


def _sha256_of(archive: Archive, relpath: str) -> str | None:
    try:
        return hashlib.sha256(timestamps.read_token(archive, relpath)).hexdigest()
    except (OSError, ArchiverError):  # missing, unreadable or an unsafe path: no digest
        return None


def _clock(c: Checked, at: str | None) -> None:
    assert c.gen_time is not None
    try:
        entry_time = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return
    if entry_time.tzinfo is not None and entry_time > c.gen_time + CLOCK_SLACK:
        c.fail("tsa-clock-ahead", f"the entry says it was made at {at}, more than 10 minutes "
                                  f"after the TSA's genTime {timestamps.iso(c.gen_time)}: the "
                                  "operator's clock was ahead", severity="warning")


def _check_trust(c: Checked, resp: Any, roots: list[Any], digest: bytes) -> Checked:
    from cryptography import x509

    assert c.gen_time is not None
    certs = []
    for der in resp.signed_data.certificates:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    infos = list(resp.signed_data.signer_infos)
    if len(infos) != 1:
        return c.fail("tsa-signer-missing", f"{len(infos)} SignerInfos (a token has one)")
    leaf = next((x for x in certs if x.issuer == infos[0].issuer
                 and x.serial_number == infos[0].serial_number), None)
    if leaf is None:
        return c.fail("tsa-signer-missing", "no embedded certificate matches the SignerInfo's "
                                            "issuer and serial (was certReq honoured?)")
    c.subject = leaf.subject.rfc4514_string()
    problem = eku_problem(leaf)
    if problem:
        return c.fail("tsa-eku", f"the TSA certificate ({c.subject}) {problem}")
    if not leaf.not_valid_before_utc <= c.gen_time <= leaf.not_valid_after_utc:
        return c.fail("tsa-cert-not-valid-at-gentime",
                      f"the TSA certificate ({c.subject}) was valid "
                      f"{timestamps.iso(leaf.not_valid_before_utc)} to "
                      f"{timestamps.iso(leaf.not_valid_after_utc)}, not at genTime "
                      f"{timestamps.iso(c.gen_time)}")
    path, error = build_chain(leaf, [x for x in certs if x is not leaf], roots, c.gen_time)
    if path is None:
        return c.fail("tsa-untrusted", f"no chain from the TSA certificate ({c.subject}) to a "
                                       f"root named in --tsa-roots, valid at genTime: {error}")
    if len(path) < 2:  # the TSA certificate itself in the trust file: a pin, not a root
        return c.fail("tsa-untrusted", f"the TSA certificate ({c.subject}) is itself in "
                                       "--tsa-roots: name the CA root that issued it")
    problem = signature_problem(resp, path, digest, int(c.rec.nonce))
    if problem:
        return c.fail("tsa-bad-signature", f"the token's signature does not verify: {problem}")
    c.expires = min(x.not_valid_after_utc for x in path)
    c.trusted = True
    return c


def eku_problem(cert: Any) -> str:
    """'' when extendedKeyUsage is critical and exactly id-kp-timeStamping (RFC 3161 §2.3)."""
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "has no extendedKeyUsage extension (id-kp-timeStamping is required)"
    if not ext.critical:
        return "has an extendedKeyUsage extension that is not marked critical"
    if list(ext.value) != [x509.ExtendedKeyUsageOID.TIME_STAMPING]:
        return "has an extendedKeyUsage other than id-kp-timeStamping alone"
    return ""


def build_chain(leaf: Any, intermediates: list[Any], roots: list[Any],
                when: datetime) -> tuple[list[Any] | None, str]:
    """(leaf ... root, '') for a chain to one of `roots` valid at `when`, else (None, why).
    cryptography's RFC 5280 path builder, with the CA profile of the Web PKI for issuers and
    no end-entity profile (a TSA certificate is not a TLS client: its EKU is checked above)."""
    from cryptography.x509.verification import (
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    if not roots:
        return None, "no roots given"
    verifier = (PolicyBuilder().store(Store(roots)).time(when)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    try:
        verified = verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return None, str(exc).split(" (encountered")[0].removeprefix("validation failed: ")
    return list(verified.chain), ""


def signature_problem(resp: Any, path: list[Any], digest: bytes, nonce: int) -> str:
    """'' when the CMS signature verifies with rfc3161-client, trusting only `path`'s root and
    its intermediates (already proven to chain to a named root at genTime)."""
    from rfc3161_client import VerificationError, VerifierBuilder

    builder = VerifierBuilder(roots=[path[-1]], intermediates=list(path[1:-1]), nonce=nonce)
    try:
        builder.build().verify(resp, digest)
    except VerificationError as exc:
        return str(exc)[:200]
    return ""


def judge_expiry(checked: list[Checked], now: datetime) -> None:
    """A token whose chain has expired stands only if a renewal made before that expiry
    covers it (itself standing: renewals chain). One expiring within 90 days unrenewed is a
    warning."""
    renewals: dict[str, list[Checked]] = {}
    for c in checked:
        if c.rec.renews_sha256 and c.trusted:
            renewals.setdefault(c.rec.renews_sha256, []).append(c)

    def stands(c: Checked, depth: int = 0) -> bool:
        if c.expires is None or depth > 64:
            return False
        if c.expires > now:
            return True
        return any(r.gen_time is not None and r.gen_time < c.expires and stands(r, depth + 1)
                   for r in renewals.get(c.sha256, []))

    def renewed(c: Checked) -> bool:
        return any(r.gen_time is not None and c.expires is not None and r.gen_time < c.expires
                   for r in renewals.get(c.sha256, []))

    for c in checked:
        if not c.trusted or c.expires is None:
            continue
        if c.expires <= now and not stands(c):
            c.fail("tsa-cert-expired", f"the TSA certificate chain expired "
                                       f"{timestamps.iso(c.expires)} and no renewal made "
                                       "before then covers this token (run `archiver "
                                       "timestamp --renew` before certificates expire)")
        elif now < c.expires <= now + EXPIRY_WARNING and not renewed(c):
            c.fail("tsa-expiring", f"the TSA certificate chain expires "
                                   f"{timestamps.iso(c.expires)}, within 90 days, and no "
                                   "renewal covers this token yet: run `archiver timestamp "
                                   "--renew`", severity="warning")


def reply_problem(reply: bytes, message: bytes, nonce: int, roots: list[Any]) -> str:
    """'' when a fresh reply (already checked for status, imprint and nonce) verifies against
    `roots` (`archiver timestamp --tsa-roots`: refuse what audit would reject); else why."""
    from rfc3161_client import decode_timestamp_response

    resp = decode_timestamp_response(reply)
    rec = timestamps.Recorded(-1, "reply", -1, "", "", str(nonce), "sha256", "", "", None,
                              None, None)
    c = Checked(rec, gen_time=resp.tst_info.gen_time.astimezone(UTC))
    _check_trust(c, resp, roots, hashlib.sha256(message).digest())
    return c.findings[0].message.removeprefix("seq -1: ") if c.findings else ""
