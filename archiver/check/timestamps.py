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

Each RFC 3161 step is archiver.store.tsp's (shared with `archiver verify`); this module
adds what is particular to the archive's tokens: the head they name, renewals, the recorded
nonce and genTime, the operator's clock and expiry after genTime.
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


def load_roots(paths: Iterable[str | Path], *, cannot_read: str = "cannot read TSA roots",
               not_pem: str = "not PEM certificates ({exc})") -> list[Any]:
    """Trust anchors from PEM files (each may hold several certificates). An unreadable file
    is an UnreadableInputError: verifying against fewer roots than the user named would
    report trusted tokens as untrusted. `cannot_read`/`not_pem` word the error for the
    caller (`not_pem` may quote the parser's error as {exc})."""
    from cryptography import x509

    roots: list[Any] = []
    for p in paths:
        try:
            roots += x509.load_pem_x509_certificates(Path(p).read_bytes())
        except OSError as exc:
            raise UnreadableInputError(f"{p}: {cannot_read}: {exc.strerror}") from exc
        except ValueError as exc:
            raise UnreadableInputError(f"{p}: {not_pem.format(exc=exc)}") from exc
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
    from archiver.store import tsp  # rfc3161-client: only when there are tokens

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
        resp = tsp.parse(der)
    except tsp.TokenError as exc:
        return c.fail("tsa-token-unreadable", f"not a DER TimeStampResp: {exc}; truncated or "
                                              "edited")
    if tsp.status_problem(resp):
        return c.fail("tsa-not-granted", f"the TSA did not grant this token (status "
                                         f"{tsp.status_name(resp)})")
    actual = chain.get(rec.seq)
    if actual is None:
        return c.fail("tsa-head-missing", "the token names a seq that is not in the chain")
    if actual != rec.hash:
        return c.fail("tsa-head-mismatch", f"the token was made over head {rec.hash}, but "
                                           f"the chain has {actual} at that seq (history "
                                           "rewritten, or another archive's token)")
    if rec.renews:
        found = _sha256_of(archive, rec.renews)
        if found != rec.renews_sha256:
            return c.fail("tsa-renewal-mismatch",
                          f"renewal of {rec.renews}, made over sha256 {rec.renews_sha256}, "
                          f"but that token's bytes now hash to {found}")
    message = timestamps.head_message(rec.seq, actual, rec.renews_sha256 if rec.renews
                                      else None)
    problem = tsp.imprint_problem(resp, message)
    if problem:
        return c.fail("tsa-imprint-mismatch", f"the token's message imprint is not the digest "
                                              f"of this head (a token for something else: "
                                              f"{problem})")
    problem = tsp.nonce_problem(resp, rec.nonce)
    if problem:
        return c.fail("tsa-nonce-mismatch", f"{problem}: a replayed reply")
    c.gen_time = tsp.gen_time(resp)
    if timestamps.iso(c.gen_time) != rec.gen_time:
        return c.fail("tsa-record-mismatch", f"the event says genTime {rec.gen_time}, the "
                                             f"token says {timestamps.iso(c.gen_time)}")
    _clock(c, entry_at.get(rec.seq))
    if roots is None:
        return c
    return _check_trust(c, resp, roots)


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


TRUST_FINDINGS = {"validity": "tsa-cert-not-valid-at-gentime", "chain": "tsa-untrusted",
                  "signature": "tsa-bad-signature"}


def _check_trust(c: Checked, resp: Any, roots: list[Any]) -> Checked:
    """The steps that need roots (archiver.store.tsp), each failure its finding."""
    from archiver.store import tsp  # rfc3161-client: only when there are tokens

    assert c.gen_time is not None
    if len(list(resp.signed_data.signer_infos)) != 1:
        return c.fail("tsa-signer-missing", f"{len(list(resp.signed_data.signer_infos))} "
                                            "SignerInfos (a token has one)")
    leaf = tsp.signer_certificate(resp)
    if leaf is None:
        return c.fail("tsa-signer-missing", "no embedded certificate matches the SignerInfo's "
                                            "issuer and serial (was certReq honoured?)")
    c.subject = tsp.subject(leaf)
    problem = tsp.eku_problem(leaf)
    if problem:
        return c.fail("tsa-eku", f"the TSA certificate ({c.subject}) {problem}")
    step, why, path = tsp.trust_problem(resp, leaf, tsp.token_certificates(resp), roots,
                                        c.gen_time)
    if path is None:
        what = {"validity": f"the TSA certificate ({c.subject}) {why}",
                "chain": f"no chain from the TSA certificate ({c.subject}) to a root named "
                         f"in --tsa-roots, valid at genTime: {why}",
                "signature": f"the token's signature does not verify: {why}"}[step]
        return c.fail(TRUST_FINDINGS[step], what)
    c.expires = min(x.not_valid_after_utc for x in path)
    c.trusted = True
    return c


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
    from archiver.store import tsp  # rfc3161-client: only when there are tokens

    resp = tsp.parse(reply)
    rec = timestamps.Recorded(-1, "reply", -1, "", "", str(nonce), "sha256", "", "", None,
                              None, None)
    c = Checked(rec, gen_time=tsp.gen_time(resp))
    _check_trust(c, resp, roots)
    return c.findings[0].message.removeprefix("seq -1: ") if c.findings else ""
