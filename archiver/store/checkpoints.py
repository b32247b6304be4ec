"""Checkpoints others can cosign: the chain head as a C2SP signed note, and witness
cosignatures over it (c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature).

A checkpoint's note text is three lines: the origin (the archive's name), the size (seq + 1:
entries 0..seq) and the head hash in base64 (the 32 bytes of the manifest entry's sha256).
It is "tlog-checkpoint-style": the third line is the hash-chain head, not an RFC 6962 Merkle
root, so consistency between two checkpoints is proven by the manifest itself (the entry at
seq has that hash, and the chain links it to every later one), not by a Merkle proof.

Signatures are note signature lines, `— <key name> base64(key ID || signature)`:
  - the archive's: Ed25519 (signature type 0x01) over the note text, key name = origin,
    key ID = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4] (signed-note);
  - a witness's: a tlog-cosignature/v1 Ed25519 cosignature (type 0x04): 8-byte big-endian
    POSIX time || Ed25519 over "cosignature/v1\\ntime <t>\\n" + note text.
Witness keys are given as vkeys, `<name>+<hex key ID>+base64(0x04 || public key)`.

Files, beside the manifest:
  checkpoints/<size>-<hash12>.note             the archive's checkpoint (named by a manifest
                                               event, so audit checks its bytes);
  checkpoints/<size>-<hash12>.<witness>.cosig  the same note with a witness's line added.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.base.errors import StoreError, UnreadableInputError, UsageError
from archiver.base.findings import Finding
from archiver.store import manifest
from archiver.store.archive import Archive

FOLDER = "checkpoints"
ED25519 = 0x01  # signed-note signature type
COSIGNATURE_V1 = 0x04  # tlog-cosignature Ed25519
DASH = "\u2014"  # em dash, the signature line's first character
NAME_RE = re.compile(r"^[^\s+]+$")  # key names: non-empty, no spaces, no plus
MAX_SIGNATURES = 64


class NoteError(ValueError):
    """Not a signed note / checkpoint in the C2SP format."""


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4] (signed-note, tlog-cosignature)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def vkey(name: str, key: Ed25519PublicKey, sig_type: int = COSIGNATURE_V1) -> str:
    public = raw_public(key)
    return (f"{name}+{key_id(name, sig_type, public).hex()}+"
            f"{base64.b64encode(bytes([sig_type]) + public).decode()}")


@dataclass(frozen=True)
class Verifier:
    """A witness's verifier key (a vkey)."""

    name: str
    key_id: bytes
    sig_type: int
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold "+"; a name never does
        try:
            name, kid, blob = parts
            raw = base64.b64decode(blob, validate=True)
            kid_bytes = bytes.fromhex(kid)
            public = Ed25519PublicKey.from_public_bytes(raw[1:])
        except (ValueError, binascii.Error) as exc:
            raise UsageError(f"{text.strip()[:60]!r}: not a vkey "
                             "(name+keyid+base64(type||public key))") from exc
        if raw[0] not in (ED25519, COSIGNATURE_V1) or len(kid_bytes) != 4 \
                or key_id(name, raw[0], raw[1:]) != kid_bytes or not NAME_RE.match(name):
            raise UsageError(f"{name}: a vkey whose key ID, type or name does not hold")
        return cls(name, kid_bytes, raw[0], public)


def load_verifier(value: str) -> Verifier:
    """A vkey given on the command line, or the path of a file holding one."""
    path = Path(value)
    if "+" not in value or path.is_file():
        try:
            value = path.read_text("utf-8")
        except OSError as exc:
            raise UnreadableInputError(f"{value}: neither a vkey nor a readable file") from exc
    return Verifier.parse(value)


# ---------------------------------------------------------------- notes


@dataclass
class Note:
    text: str  # the note text, final newline included
    signatures: list[tuple[str, bytes]] = field(default_factory=list)  # (name, id || sig)

    def render(self) -> str:
        return self.text + "\n" + "".join(
            f"{DASH} {name} {base64.b64encode(blob).decode()}\n"
            for name, blob in self.signatures)

    @classmethod
    def parse(cls, data: str) -> Note:
        if any(ord(c) < 0x20 and c != "\n" for c in data):
            raise NoteError("control characters in the note")
        cut = data.rfind("\n\n")
        if cut < 0 or not data.endswith("\n"):
            raise NoteError("no blank line between the text and its signatures")
        text, lines = data[:cut + 1], data[cut + 2:].splitlines()
        if not lines or len(lines) > MAX_SIGNATURES:
            raise NoteError("no signature lines" if not lines else "too many signatures")
        sigs = []
        for line in lines:
            prefix, _, rest = line.partition(" ")
            name, _, blob = rest.partition(" ")
            try:
                raw = base64.b64decode(blob, validate=True)
            except ValueError as exc:  # binascii.Error, or not ASCII at all
                raise NoteError(f"signature of {name!r} is not base64") from exc
            if prefix != DASH or not NAME_RE.match(name) or len(raw) < 5:
                raise NoteError(f"malformed signature line {line[:60]!r}")
            sigs.append((name, raw))
        return cls(text, sigs)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    head: str  # "sha256:<hex>", as the manifest writes it

    @property
    def seq(self) -> int:
        return self.size - 1

    def text(self) -> str:
        digest = bytes.fromhex(self.head.removeprefix("sha256:"))
        return f"{self.origin}\n{self.size}\n{base64.b64encode(digest).decode()}\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or not all(lines[:3]):
            raise NoteError("a checkpoint needs origin, size and hash lines")
        origin, size, root = lines[:3]
        if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
            raise NoteError(f"size {size!r} is not a decimal without leading zeroes")
        try:
            digest = base64.b64decode(root, validate=True)
        except ValueError as exc:  # binascii.Error, or not ASCII at all
            raise NoteError("the hash line is not base64") from exc
        if len(digest) != 32:
            raise NoteError("the hash line is not 32 bytes (sha256)")
        return cls(origin, int(size), "sha256:" + digest.hex())


def default_origin(archive: Archive) -> str:
    """The archive's name, as a key name may hold it (no spaces, no plus)."""
    return re.sub(r"[\s+]+", "-", archive.root.name) or "archive"


def note_path(archive: Archive, cp: Checkpoint) -> Path:
    return archive.root / FOLDER / f"{cp.size}-{cp.head.removeprefix('sha256:')[:12]}.note"


def make(archive: Archive, key: Ed25519PrivateKey, origin: str | None = None) -> tuple[Path,
                                                                                   Checkpoint]:
    """Write a checkpoint of the current head, signed with the archive's key; (path, it).
    The head is read under the manifest lock; the file is written once, never rewritten."""
    origin = origin or default_origin(archive)
    if not NAME_RE.match(origin):
        raise UsageError(f"{origin!r}: an origin has no spaces and no '+'")
    with manifest.lock_for(archive.manifest_path):
        last = manifest.read_last(archive.manifest_path)
    if last is None:
        raise UsageError(f"{archive.manifest_path}: the manifest is empty; nothing to checkpoint")
    cp = Checkpoint(origin, int(last["seq"]) + 1, str(last["hash"]))
    public = raw_public(key.public_key())
    note = Note(cp.text(), [(origin, key_id(origin, ED25519, public)
                             + key.sign(cp.text().encode()))])
    path = note_path(archive, cp)
    _write_new(path, note.render().encode())
    return path, cp


def _write_new(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            if path.read_bytes().startswith(data.split(b"\n\n")[0]):
                raise UsageError(f"{path}: this head is checkpointed already")
            raise StoreError(f"{path}: exists with other content; nothing overwritten")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def cosign(checkpoint: Path, key: Ed25519PrivateKey, name: str,
           out: Path | None = None, now: int | None = None) -> tuple[Path, str]:
    """Add a tlog-cosignature/v1 line by `key` (witness `name`) to a copy of the checkpoint;
    (the cosigned file, the witness's vkey). The original file is left as it is."""
    if not NAME_RE.match(name):
        raise UsageError(f"{name!r}: a witness name has no spaces and no '+'")
    note = read_note(checkpoint)
    try:
        Checkpoint.from_text(note.text)  # a witness cosigns only what parses as a checkpoint
    except NoteError as exc:
        raise UnreadableInputError(f"{checkpoint}: not a checkpoint ({exc})") from exc
    stamp = int(time.time()) if now is None else now
    public = raw_public(key.public_key())
    sig = key.sign(cosigned_message(note.text, stamp))
    note.signatures.append((name, key_id(name, COSIGNATURE_V1, public)
                            + stamp.to_bytes(8, "big") + sig))
    out = out or checkpoint.with_name(f"{checkpoint.name.removesuffix('.note')}."
                                      f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.cosig")
    _write_new(out, note.render().encode())
    return out, vkey(name, key.public_key())


def cosigned_message(text: str, stamp: int) -> bytes:
    return f"cosignature/v1\ntime {stamp}\n".encode() + text.encode()


def read_note(path: Path) -> Note:
    try:
        data = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such checkpoint") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableInputError(f"{path}: not a readable checkpoint") from exc
    try:
        return Note.parse(data)
    except NoteError as exc:
        raise UnreadableInputError(f"{path}: not a signed note ({exc})") from exc


# ---------------------------------------------------------------- audit


def checkpoint_files(archive: Archive) -> list[Path]:
    folder = archive.root / FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".note", ".cosig") and p.is_file())


@dataclass
class _Seen:
    where: str
    cp: Checkpoint
    witnesses: set[str] = field(default_factory=set)


def verify(archive: Archive, trusted: dict[str, Ed25519PublicKey],
           witnesses: list[Verifier], minimum: int) -> list[Finding]:
    """Every checkpoint and cosignature: well-formed, the archive's signature by a trusted
    key, the head it names still in the manifest with that hash, no two checkpoints of one
    size with different hashes (a fork), and with `witnesses`: each checkpointed seq covered
    by a checkpoint at or after it that `minimum` of them cosigned."""
    findings: list[Finding] = []
    seen: list[_Seen] = []
    for path in checkpoint_files(archive):
        where = path.relative_to(archive.root).as_posix()
        try:
            note = Note.parse(path.read_bytes().decode("utf-8"))
            cp = Checkpoint.from_text(note.text)
        except (ValueError, OSError) as exc:  # NoteError, UnicodeDecodeError, a bad number
            findings.append(Finding("error", "checkpoint-unreadable", where, str(exc)))
            continue
        entry = _Seen(where, cp)
        findings += _signature_findings(where, note, cp, trusted, witnesses, entry)
        seen.append(entry)
    if not archive.manifest_path.is_file():
        return findings
    hashes, records = _scan(archive, {s.cp.seq for s in seen})
    findings += _recorded_findings(archive, records)
    if not seen:
        return findings
    findings += _chain_findings(seen, hashes)
    findings += _fork_findings(seen)
    if witnesses:
        findings += _witness_findings(seen, minimum)
    return findings


def _signature_findings(where: str, note: Note, cp: Checkpoint,
                        trusted: dict[str, Ed25519PublicKey], witnesses: list[Verifier],
                        seen: _Seen) -> Iterator[Finding]:
    by_id = {key_id(cp.origin, ED25519, raw_public(k)): k for k in trusted.values()}
    archive_signed = False
    for name, blob in note.signatures:
        kid, body = blob[:4], blob[4:]
        if name == cp.origin and kid in by_id:
            try:
                by_id[kid].verify(body, note.text.encode())
                archive_signed = True
            except InvalidSignature:
                yield Finding("error", "bad-checkpoint-signature", where,
                              f"size {cp.size}: the archive's signature does not verify")
            continue
        for w in witnesses:
            if w.name == name and w.key_id == kid and w.sig_type == COSIGNATURE_V1:
                if _cosignature_ok(w, body, note.text):
                    seen.witnesses.add(w.name)
                else:
                    yield Finding("error", "bad-cosignature", where,
                                  f"size {cp.size}: {name}'s cosignature does not verify")
    if not archive_signed and not where.endswith(".cosig"):
        yield Finding("warning" if not trusted else "error", "unverified-checkpoint", where,
                      f"size {cp.size}: no signature by a trusted archive key"
                      + ("" if trusted else " (no trusted key known: set "
                                            "$ARCHIVER_TRUSTED_KEYS)"))


def _cosignature_ok(w: Verifier, body: bytes, text: str) -> bool:
    if len(body) != 8 + 64:
        return False
    stamp = int.from_bytes(body[:8], "big")
    try:
        w.public.verify(body[8:], cosigned_message(text, stamp))
    except InvalidSignature:
        return False
    return stamp < 2**63


def record(cp: Checkpoint, path: Path, archive: Archive) -> dict[str, object]:
    """The manifest entry's `checkpoint` property: audit checks the file against it."""
    data = path.read_bytes()
    return {"file": path.relative_to(archive.root).as_posix(),
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "origin": cp.origin, "seq": cp.seq, "hash": cp.head}


def _scan(archive: Archive, wanted: set[int]) -> tuple[dict[int, str],
                                                      list[tuple[int, dict[str, object]]]]:
    """One raw pass over the manifest: the hashes of the `wanted` seqs (line n holds seq n
    in a sound chain, which audit's chain check judges) and every `checkpoint` record. Only
    those lines are parsed, so an archive without checkpoints costs a read, not a parse."""
    hashes: dict[int, str] = {}
    records: list[tuple[int, dict[str, object]]] = []
    with open(archive.manifest_path, "rb") as f:
        for number, line in enumerate(f):
            if number not in wanted and b'"checkpoint":' not in line:
                continue
            entry = manifest.parse_entry(line)
            if entry is None:
                continue
            seq = entry.get("seq")
            if isinstance(seq, int) and seq in wanted and isinstance(entry.get("hash"), str):
                hashes.setdefault(seq, entry["hash"])
            if isinstance(entry.get("checkpoint"), dict):
                records.append((seq if isinstance(seq, int) else -1, entry["checkpoint"]))
    return hashes, records


def _recorded_findings(archive: Archive,
                       records: list[tuple[int, dict[str, object]]]) -> Iterator[Finding]:
    """Each checkpoint file a manifest event recorded is still there, byte for byte."""
    for seq, rec in records:
        rel = rec.get("file")
        if not isinstance(rel, str):
            continue
        try:
            data = archive.resolve(rel).read_bytes()
        except (OSError, UsageError):
            yield Finding("error", "checkpoint-missing", rel,
                          f"recorded by seq {seq} but missing or unreadable")
            continue
        if hashlib.sha256(data).hexdigest() != rec.get("sha256"):
            yield Finding("error", "checkpoint-changed", rel,
                          f"sha256 differs from what seq {seq} recorded")


def _chain_findings(seen: list[_Seen], hashes: dict[int, str]) -> Iterator[Finding]:
    for s in seen:
        actual = hashes.get(s.cp.seq)
        if actual is None:
            yield Finding("error", "checkpoint-entry-missing", s.where,
                          f"size {s.cp.size}: seq {s.cp.seq} is not in the manifest "
                          "(entries were removed)")
        elif actual != s.cp.head:
            yield Finding("error", "checkpoint-mismatch", s.where,
                          f"size {s.cp.size} names head {s.cp.head} but the manifest has "
                          f"{actual} at seq {s.cp.seq}: history was rewritten",
                          details={"expected": s.cp.head, "actual": actual})


def _fork_findings(seen: list[_Seen]) -> Iterator[Finding]:
    by_size: dict[tuple[str, int], dict[str, str]] = {}
    for s in seen:
        by_size.setdefault((s.cp.origin, s.cp.size), {}).setdefault(s.cp.head, s.where)
    for (origin, size), heads in sorted(by_size.items()):
        if len(heads) > 1:
            yield Finding("error", "checkpoint-fork", ", ".join(sorted(heads.values())),
                          f"{origin} size {size} has {len(heads)} different heads: two "
                          "histories were signed (a fork)",
                          details={"heads": sorted(heads)})


def _witness_findings(seen: list[_Seen], minimum: int) -> Iterator[Finding]:
    cosigners: dict[tuple[int, str], set[str]] = {}
    for s in seen:
        cosigners.setdefault((s.cp.size, s.cp.head), set()).update(s.witnesses)
    witnessed = [size for (size, _), names in cosigners.items() if len(names) >= minimum]
    best = max(witnessed, default=0)
    for size in sorted({s.cp.size for s in seen}):
        if size > best:
            yield Finding("error", "checkpoint-unwitnessed", FOLDER,
                          f"size {size}: no checkpoint at or after it carries {minimum} "
                          "cosignature(s) from the given witnesses")
