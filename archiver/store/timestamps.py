"""RFC 3161 time-stamp tokens over chain heads: asked of TSAs, stored beside the manifest.

A token proves that a message existed by the TSA's genTime. The message is the chain head,
as the Ed25519 head signature covers it (seq + hash), in canonical JSON with its own type:

    head:     {"hash": "sha256:<head>", "seq": N, "type": "archiver-timestamp-head", "v": 1}
    renewal:  {"hash": ..., "renews": "<sha256 hex of the renewed token file>", "seq": N,
               "type": "archiver-timestamp-renewal", "v": 1}

and the imprint is its sha256, so anyone can check a token with OpenSSL alone:
`printf '%s' '<message>' > m; openssl ts -verify -data m -in TOKEN.tsr -CAfile ROOTS.pem`.
A renewal (the RFC 4998 Evidence Record idea) is a new token over the previous token's bytes
and the head: made while the old TSA certificate is still valid, it carries the old proof
past that certificate's expiry.

Storage (proof sits beside the chain, never inside its bytes):
  timestamps/<seq:08d>-<sha256[:16]>.tsr   the full DER TimeStampResp, as received, written
                                           once (atomic rename) and never changed
  manifest.jsonl                           one `digital signature generation` event per run
                                           (PREMIS: the TSA's CMS signature over our head),
                                           naming each token file with its sha256 and size
                                           in `files` (so audit's fixity pass covers them:
                                           a deleted or edited token is a missing-file or
                                           checksum-mismatch finding, and a token file no
                                           event names is an orphan) and describing each in
                                           `timestamps`: seq, head hash, TSA URL, nonce, hash
                                           algorithm, genTime, TSA subject, renews.
The event is appended under the manifest lock like every entry (one committer per chain);
the network requests happen before, without the lock, so a slow TSA never blocks a writer.
Why an event and not a side file such as timestamps.jsonl: a side file's lines could be
deleted without trace, while an event is chained: removing it breaks the chain, and the
file digests it names make every token file as tamper-evident as a WARC.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.base.errors import UsageError
from archiver.store import manifest
from archiver.store.archive import Archive

ENV_TSA = "ARCHIVER_TSA"  # space-separated TSA URLs
ENV_ROOTS = "ARCHIVER_TSA_ROOTS"  # os.pathsep-separated PEM files of trusted TSA roots
FOLDER = "timestamps"
EVENT = "digital signature generation"
HEAD_TYPE = "archiver-timestamp-head"
RENEWAL_TYPE = "archiver-timestamp-renewal"
QUERY_TYPE = "application/timestamp-query"
DEFAULT_TIMEOUT = 10.0
MAX_REPLY = 1024 * 1024  # a TimeStampResp is a few KB; more is not a reply


def head_message(seq: int, head_hash: str, renews: str | None = None) -> bytes:
    """The bytes a token's imprint is the digest of (see the module docstring)."""
    body: dict[str, Any] = {"v": 1, "type": HEAD_TYPE, "seq": seq, "hash": head_hash}
    if renews is not None:
        body.update(type=RENEWAL_TYPE, renews=renews)
    return manifest.canonical(body)


def tsa_urls(given: tuple[str, ...] | list[str] = ()) -> list[str]:
    """--tsa URLs, else $ARCHIVER_TSA (space-separated)."""
    urls = list(given) or os.environ.get(ENV_TSA, "").split()
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url}: a TSA URL must start with http:// or https://")
    return urls


# ---------------------------------------------------------------- asking

@dataclass
class Stamp:
    """One TSA's answer for one message: granted (`reply` set, `error` empty) or not."""

    tsa: str
    seq: int
    hash: str
    nonce: int
    renews: str | None = None  # the renewed token's path, for a renewal
    renews_sha256: str | None = None
    reply: bytes = b""
    error: str = ""
    gen_time: str = ""
    tsa_subject: str = ""
    seconds: float = 0.0
    path: str = ""  # where it was stored

    @property
    def granted(self) -> bool:
        return bool(self.reply) and not self.error

    def message(self) -> bytes:
        return head_message(self.seq, self.hash, self.renews_sha256)

    def describe(self) -> dict[str, Any]:
        """What the manifest event records about this token."""
        out: dict[str, Any] = {"token": self.path, "seq": self.seq, "hash": self.hash,
                               "tsa": self.tsa, "nonce": str(self.nonce),
                               "hash_algorithm": "sha256", "gen_time": self.gen_time,
                               "tsa_subject": self.tsa_subject}
        if self.renews:
            out.update(renews=self.renews, renews_sha256=self.renews_sha256)
        return out


def build_query(message: bytes) -> tuple[bytes, int]:
    """(DER TimeStampReq, nonce): sha256 imprint of `message`, a random nonce, certReq true."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    req = (TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256)
           .nonce(nonce=True).cert_request(cert_request=True).build())
    return bytes(req.as_bytes()), int(req.nonce or 0)


def ask(url: str, seq: int, head_hash: str, timeout: float, renews: str | None = None,
        renews_sha256: str | None = None) -> Stamp:
    """One request to one TSA; never raises: a failure is the Stamp's `error`. The reply is
    checked for what needs no trust anchor (status granted, our imprint, our nonce): a reply
    that fails these proves nothing and is not kept."""
    import requests

    stamp = Stamp(url, seq, head_hash, 0, renews, renews_sha256)
    query, stamp.nonce = build_query(stamp.message())
    started = time.monotonic()
    try:
        with requests.post(url, data=query, headers={"Content-Type": QUERY_TYPE},
                           timeout=(timeout, timeout), stream=True) as response:
            if response.status_code != 200:
                stamp.error = f"HTTP {response.status_code} {response.reason}"
                return stamp
            body = response.raw.read(MAX_REPLY + 1, decode_content=True)
    except requests.Timeout:
        # the same words as ask_all's deadline: which of the two fires first is a race
        stamp.error = f"no answer within {timeout:g} s"
        return stamp
    except requests.RequestException as exc:
        stamp.error = f"no answer: {_reason(exc)}"
        return stamp
    finally:
        stamp.seconds = time.monotonic() - started
    if len(body) > MAX_REPLY:
        stamp.error = f"reply larger than {MAX_REPLY} bytes: not a time-stamp reply"
        return stamp
    stamp.error = check_reply(body, stamp)
    if not stamp.error:
        stamp.reply = body
    return stamp


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host",
                   "Max retries exceeded"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def check_reply(body: bytes, stamp: Stamp) -> str:
    """'' when `body` is a granted reply over the stamp's message with its nonce (and fills
    gen_time and tsa_subject); else the reason, in one line. The steps are
    archiver.store.tsp's, as audit and verify run them."""
    from archiver.store import tsp  # rfc3161-client and cryptography: only when asked

    try:
        resp = tsp.parse(body)
    except tsp.TokenError as exc:
        return f"unreadable reply (not a DER TimeStampResp): {str(exc)[:120]}"
    if tsp.status_problem(resp):  # grantedWithMods too: rfc3161-client's verifier
        text = "; ".join(resp.status_string) or "no status text"  # accepts granted only
        return f"refused: status {tsp.status_name(resp)} ({text})"
    if tsp.imprint_problem(resp, stamp.message()):
        return "reply is for another message (imprint differs from the head asked)"
    if tsp.nonce_problem(resp, stamp.nonce):
        return "reply nonce differs from the request's (a replayed or mixed-up reply)"
    stamp.gen_time = iso(tsp.gen_time(resp))
    signer = tsp.signer_certificate(resp)
    stamp.tsa_subject = tsp.subject(signer) if signer is not None else ""
    return ""


def iso(when: Any) -> str:
    return str(when.isoformat().replace("+00:00", "Z"))


def ask_all(urls: list[str], seq: int, head_hash: str, timeout: float,
            renewals: list[tuple[str, str]] | None = None) -> list[Stamp]:
    """Every TSA in parallel, all within `timeout` seconds of wall time: a TSA that has not
    answered by then is reported as timed out and left behind (its thread is a daemon and
    its late answer is dropped). `renewals`: (token path, token sha256) to renew, each asked
    of every TSA; without them, the head itself."""
    jobs = [(url, r) for url in urls for r in (renewals or [None])]  # type: ignore[list-item]
    results: list[Stamp | None] = [None] * len(jobs)

    def failed(url: str, renew: tuple[str, str] | None, error: str) -> Stamp:
        path, digest = renew or (None, None)
        return Stamp(url, seq, head_hash, 0, renews=path, renews_sha256=digest, error=error)

    def run(i: int, url: str, renew: tuple[str, str] | None) -> None:
        try:
            results[i] = ask(url, seq, head_hash, timeout, *(renew or (None, None)))
        except Exception as exc:  # whatever a strange URL or reply raises: a failed TSA,
            results[i] = failed(url, renew, f"{type(exc).__name__}: {exc}")  # no traceback

    threads = [threading.Thread(target=run, args=(i, url, r), daemon=True)
               for i, (url, r) in enumerate(jobs)]
    deadline = time.monotonic() + timeout
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    out = []
    for (url, renew), result in zip(jobs, results, strict=True):
        if result is None:  # still waiting: the thread may fill it in later, unseen
            result = failed(url, renew, f"no answer within {timeout:g} s")
        out.append(result)
    return out


# ---------------------------------------------------------------- storing

def store(archive: Archive, stamps: list[Stamp], operator: str | None = None,
          ) -> dict[str, Any] | None:
    """Write each granted stamp's reply under timestamps/ and append one event naming them;
    returns the entry (None when nothing was granted). The files are durable before the event
    that names them, as for WARCs: a crash between leaves an orphan, never a dangling name."""
    granted = [s for s in stamps if s.granted]
    if not granted:
        return None
    files = []
    for s in granted:
        digest = hashlib.sha256(s.reply).hexdigest()
        s.path = f"{FOLDER}/{s.seq:08d}-{digest[:16]}.tsr"
        if not archive.resolve(s.path).exists():  # the same bytes twice: one file
            archive.write_bytes(s.path, s.reply)
        files.append({"path": s.path, "sha256": digest, "size": len(s.reply)})
    unique = list({f["path"]: f for f in files}.values())
    kinds = "renewal" if all(s.renews for s in granted) else "token"
    detail = (f"RFC 3161 time-stamp {kinds}{'s' if len(granted) > 1 else ''} over seq "
              f"{granted[0].seq} from {len({s.tsa for s in granted})} TSA(s)")
    event = manifest.new_event(EVENT, "success", detail, operator=operator, files=unique,
                               timestamps=[s.describe() for s in granted])
    return manifest.append(archive.manifest_path, event)


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class Recorded:
    """One token as an event describes it."""

    event_seq: int
    token: str
    seq: int
    hash: str
    tsa: str
    nonce: str
    hash_algorithm: str
    gen_time: str
    tsa_subject: str
    renews: str | None
    renews_sha256: str | None
    file_sha256: str | None  # from the event's files

    @property
    def is_renewal(self) -> bool:
        return self.renews is not None


def recorded(entry: dict[str, Any]) -> list[Recorded]:
    """The tokens an entry records (none for other entries; malformed items skipped: the
    schema check reports them)."""
    items = entry.get("timestamps")
    if not isinstance(items, list):
        return []
    digests = {f.get("path"): f.get("sha256") for f in entry.get("files") or []
               if isinstance(f, dict)}
    out = []
    for t in items:
        try:
            out.append(Recorded(int(entry["seq"]), str(t["token"]), int(t["seq"]),
                                str(t["hash"]), str(t["tsa"]), str(t["nonce"]),
                                str(t.get("hash_algorithm", "sha256")), str(t["gen_time"]),
                                str(t.get("tsa_subject", "")), t.get("renews"),
                                t.get("renews_sha256"), digests.get(t["token"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def all_recorded(archive: Archive) -> list[Recorded]:
    """Every token the manifest records, in order. Reads only the lines that can hold one
    (a byte search before parsing: the manifest may have millions of lines)."""
    path = archive.manifest_path
    out: list[Recorded] = []
    if not path.is_file():
        return out
    with open(path, "rb") as f:
        for raw in f:
            if b'"timestamps":' not in raw or not raw.endswith(b"\n"):
                continue
            entry = manifest.parse_entry(raw)
            if entry is not None:
                out += recorded(entry)
    return out


def read_token(archive: Archive, relpath: str) -> bytes:
    return Path(archive.resolve(relpath)).read_bytes()


def is_stamp_event(entry: dict[str, Any]) -> bool:
    return "timestamps" in entry


def target_head(archive: Archive) -> tuple[int, str]:
    """The head to prove: the newest entry that is not itself a timestamp event (those only
    record proofs of what came before; proving them again and again would grow the chain on
    every run of a cron job that finds nothing new). Reads the manifest's tail only."""
    path = archive.manifest_path
    if not path.is_file():
        raise UsageError(f"{path}: no archive here")
    last = manifest.read_last(path)
    if last is None:
        raise UsageError(f"{path}: the manifest is empty; nothing to timestamp")
    if not is_stamp_event(last):
        return int(last["seq"]), str(last["hash"])
    best: tuple[int, str] | None = None
    for entry in _tail_entries(path):
        if not is_stamp_event(entry) and isinstance(entry.get("seq"), int):
            best = (entry["seq"], str(entry["hash"]))
    if best is None:  # only timestamp events in the tail window: read it all
        for entry in manifest.iter_entries(path):
            if not is_stamp_event(entry) and isinstance(entry.get("seq"), int):
                best = (entry["seq"], str(entry["hash"]))
    return best or (int(last["seq"]), str(last["hash"]))


def _tail_entries(path: Path, window: int = 1024 * 1024) -> list[dict[str, Any]]:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - window))
        data = f.read()
    lines = data.split(b"\n")[1 if size > window else 0:]
    return [e for e in map(manifest.parse_entry, lines) if e is not None]


@dataclass(frozen=True)
class Renewable:
    """A token no renewal covers yet, with its TSA certificate's expiry."""

    rec: Recorded
    sha256: str
    expires: datetime | None  # None: no embedded certificate to read it from


def renewable(archive: Archive, within: timedelta, now: datetime | None = None,
              ) -> tuple[list[Renewable], list[Renewable]]:
    """(due, late): tokens not yet renewed whose embedded TSA certificates expire within
    `within` from now (due), and those already expired (late: a renewal made now no longer
    carries them; they are reported, not renewed)."""
    now = now or datetime.now(UTC)
    records = all_recorded(archive)
    renewed = {r.renews_sha256 for r in records if r.renews_sha256}
    due, late = [], []
    for rec in records:
        try:
            der = read_token(archive, rec.token)
        except (OSError, UsageError):
            continue
        digest = hashlib.sha256(der).hexdigest()
        if digest in renewed:
            continue
        item = Renewable(rec, digest, token_expiry(der))
        if item.expires is None:
            continue
        if item.expires <= now:
            late.append(item)
        elif item.expires <= now + within:
            due.append(item)
    return due, late


def token_expiry(der: bytes) -> datetime | None:
    """The earliest notAfter among the certificates a token embeds (None if unreadable)."""
    from archiver.store import tsp

    try:
        certs = tsp.token_certificates(tsp.parse(der))
    except tsp.TokenError:
        return None
    return min((c.not_valid_after_utc for c in certs), default=None)


def parse_window(text: str) -> timedelta:
    """'90d', '12w', '36h' or a number of days."""
    units = {"d": 1.0, "w": 7.0, "h": 1 / 24}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return timedelta(days=float(text[:-1]) * units[text[-1]])
        return timedelta(days=float(text))
    except (ValueError, OverflowError):  # OverflowError: inf, or past timedelta's range
        raise UsageError(f"{text!r}: not a window (use 90d, 12w or 36h)") from None
