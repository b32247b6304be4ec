"""Writing and reading WARC 1.1 records with warcio: the only module that touches WARC bytes.

warcio is imported where it is used, not at the top: audit's record-id check (record_ids_at)
reads header blocks with zlib alone and should not pay warcio's import (~60 ms with fsspec).

Writing: we hand warcio complete blocks with their digests already computed, so it writes the
bytes we give it verbatim (no re-serialised HTTP headers) and each record becomes one gzip
member (WARC Annex D) so readers can seek to it by offset.

Digests are sha256 in hex ("sha256:<64 hex>"): SHA-1 is weak (warc-specifications #80) and
hex is what `sha256sum` prints, so an archivist can check a payload with coreutils alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from archiver.base.errors import DamagedFileError, UnreadableInputError
from archiver.store.archive import open_regular

# Names of files that hold WARC or ARC records, compressed or not.
WARC_SUFFIXES = (".warc.gz", ".warc", ".arc.gz", ".arc")

WARC_VERSION = "WARC/1.1"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
GZIP_LEVEL = 6  # level 9 (warcio's default) costs ~2x the CPU for ~1% smaller files
COPY_CHUNK = 1024 * 1024
DEFAULT_PAYLOAD_CAP = 8 * 1024 * 1024 + 1  # decompression cap: just past extraction's limit


def warc_fields(fields: dict[str, Any]) -> bytes:
    """application/warc-fields: `name: value` lines (WARC 1.1 section 4). Structured values
    are written as JSON on their line. Replay tools (pywb) skip records in this format, so a
    metadata record never stands in for the page it describes."""
    lines = []
    for name, value in fields.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            plain = isinstance(item, str) and item.isprintable()  # no CR/LF to break lines
            text = item if plain else json.dumps(item, sort_keys=True, ensure_ascii=False)
            lines.append(f"{name}: {text}\r\n")
    return "".join(lines).encode("utf-8")


def parse_warc_fields(block: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in block.decode("utf-8").split("\r\n"):
        if line:
            name, _, value = line.partition(": ")
            pairs.append((name, value))
    return pairs


def sha256_label(digest: bytes) -> str:
    return "sha256:" + digest.hex()


class BlockStream(Protocol):
    """A record block read as a stream: any IO[bytes], or capture's head + body view."""

    def read(self, n: int = -1, /) -> bytes: ...
    def seek(self, pos: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...


def block_digest(*parts: bytes | BlockStream) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes | bytearray):
            h.update(part)
        else:
            part.seek(0)
            while chunk := part.read(COPY_CHUNK):
                h.update(chunk)
            part.seek(0)
    return sha256_label(h.digest())


def warc_date(when: datetime) -> str:
    """WARC 1.1 allows sub-second precision; keep microseconds so hops are ordered."""
    from warcio.timeutils import datetime_to_iso_date

    return datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def new_record_id() -> str:
    from warcio.statusandheaders import StatusAndHeadersParser

    return str(StatusAndHeadersParser.make_warc_id())


@dataclass(frozen=True)
class RecordRef:
    """Where a record sits: enough to find it again and to cite it in the manifest."""

    record_id: str
    rec_type: str
    offset: int
    length: int  # compressed bytes of the gzip member
    target_uri: str | None
    date: str
    payload_digest: str | None
    content_type: str | None = None
    block_digest: str | None = None
    refers_to: str | None = None  # WARC-Refers-To (a revisit's target), for the catalog


class _GzipMember:
    """A write-through gzip member: one per record, at our compression level."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self.out.write(self.compressor.compress(data))
        return len(data)

    def flush(self) -> None:
        pass  # the member is flushed once, whole, in finish()

    def finish(self) -> None:
        self.out.write(self.compressor.flush())


class _VerbatimBlock:
    """A revisit record's block (the HTTP headers as received) in the place warcio writes
    a revisit's headers from, kept byte for byte (warcio would re-serialise parsed ones)."""

    def __init__(self, block: bytes) -> None:
        self.headers_buff = block

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        return None  # keep the bytes as received


class WarcFileWriter:
    """Appends records to an open binary file (the caller owns naming, fsync and rename)."""

    def __init__(self, out: IO[bytes], filename: str) -> None:
        self.out = out
        self.filename = filename
        from warcio.warcwriter import WARCWriter

        self._warc = WARCWriter(None, gzip=False, warc_version=WARC_VERSION)
        self.warcinfo_id: str | None = None
        self.refs: list[RecordRef] = []

    def write_warcinfo(self, fields: dict[str, str], when: datetime) -> RecordRef:
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode("utf-8")
        ref = self.write_record(
            "warcinfo", None, body, when, content_type="application/warc-fields",
            extra={"WARC-Filename": self.filename}, payload_digest=None,
        )
        self.warcinfo_id = ref.record_id
        return ref

    def write_record(
        self,
        rec_type: str,
        target_uri: str | None,
        block: bytes | BlockStream,
        when: datetime,
        *,
        content_type: str,
        payload_digest: str | None,
        extra: dict[str, str] | list[tuple[str, str]] | None = None,
        record_id: str | None = None,
    ) -> RecordRef:
        """Write one record whose block is `block`, verbatim."""
        stream = io.BytesIO(block) if isinstance(block, bytes | bytearray) else block
        stream.seek(0, io.SEEK_END)
        length = stream.tell()
        record_id = record_id or new_record_id()
        date = warc_date(when)
        headers: list[tuple[str, str]] = [("WARC-Type", rec_type), ("WARC-Record-ID", record_id),
                                          ("WARC-Date", date)]
        if target_uri is not None:
            headers.append(("WARC-Target-URI", target_uri))
        if self.warcinfo_id and rec_type != "warcinfo":
            headers.append(("WARC-Warcinfo-ID", self.warcinfo_id))
        # a list of pairs where a name repeats (WARC-Protocol, warc-specifications #42)
        headers += list(extra.items()) if isinstance(extra, dict) else list(extra or [])
        block_sha = block_digest(stream)
        headers.append(("WARC-Block-Digest", block_sha))
        if payload_digest:
            headers.append(("WARC-Payload-Digest", payload_digest))
        from warcio.recordloader import ArcWarcRecord
        from warcio.statusandheaders import StatusAndHeaders

        warc_headers = StatusAndHeaders("", headers, protocol=WARC_VERSION)
        record = ArcWarcRecord("warc", rec_type, warc_headers, stream, None, content_type, length)
        record.payload_length = length
        if rec_type == "revisit":
            # warcio writes only the parsed HTTP headers of a revisit, never its stream
            # (warcwriter._write_warc_record: http_headers_only); hand the block over as
            # those headers, verbatim, so the record holds exactly the bytes we give.
            stream.seek(0)
            record.http_headers = _VerbatimBlock(stream.read())
            record.raw_stream = io.BytesIO(b"")
        offset = self.out.tell()
        member = _GzipMember(self.out)
        self._warc._write_warc_record(member, record)
        member.finish()
        refers_to = next((v for k, v in headers if k == "WARC-Refers-To"), None)
        ref = RecordRef(record_id, rec_type, offset, self.out.tell() - offset, target_uri, date,
                        payload_digest, content_type, block_sha, refers_to)
        self.refs.append(ref)
        return ref


def warcinfo_record(filename: str, fields: dict[str, str]) -> tuple[bytes, str]:
    """A warcinfo record (one gzip member) for the start of the file `filename`, and its
    record id (the WARC-Warcinfo-ID of the file's other records)."""
    out = io.BytesIO()
    ref = WarcFileWriter(out, filename).write_warcinfo(fields, datetime.now(UTC))
    return out.getvalue(), ref.record_id


@dataclass
class StoredRecord:
    """A record read back from a WARC file: headers plus the (capped) decoded payload."""

    path: Path
    offset: int
    rec_type: str
    headers: dict[str, str]
    http_status: int | None
    http_headers: dict[str, str]  # lower-cased names
    payload: bytes  # Transfer- and Content-Encoding removed, at most the cap
    payload_truncated: bool  # the cap cut the payload short

    @property
    def record_id(self) -> str:
        return self.headers.get("WARC-Record-ID", "")

    @property
    def target_uri(self) -> str:
        return self.headers.get("WARC-Target-URI", "")

    @property
    def content_type(self) -> str | None:
        if self.rec_type in ("response", "revisit"):
            return self.http_headers.get("content-type")
        return self.headers.get("Content-Type")


def _to_stored(path: Path, offset: int, record: Any, cap: int,
               want_payload: Callable[[StoredRecord], bool] | None = None) -> StoredRecord:
    http_status = None
    http_headers: dict[str, str] = {}
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        try:
            http_status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            http_status = None
        http_headers = {k.lower(): v for k, v in record.http_headers.headers}
    stored = StoredRecord(path, offset, record.rec_type, dict(record.rec_headers.headers),
                          http_status, http_headers, b"", False)
    if want_payload is None or want_payload(stored):
        stored.payload, stored.payload_truncated = _read_payload(record, cap)
    return stored


def _read_payload(record: Any, cap: int) -> tuple[bytes, bool]:
    """Decoded payload (chunking and Content-Encoding removed), at most `cap` bytes: the cap
    stops decompression bombs."""
    try:
        payload = record.content_stream().read(cap + 1)
    except Exception:  # a corrupt gzip/br body: keep the raw bytes instead
        payload = record.raw_stream.read(cap + 1)
    return payload[:cap], len(payload) > cap


def read_record_from(data: bytes, offset: int, cap: int = DEFAULT_PAYLOAD_CAP) -> StoredRecord:
    """Read the record at `offset` of WARC bytes still in memory (a capture being built)."""
    from warcio.archiveiterator import ArchiveIterator

    stream = io.BytesIO(data)
    stream.seek(offset)
    for record in ArchiveIterator(stream):
        return _to_stored(Path(""), offset, record, cap)
    raise UnreadableInputError(f"no WARC record at offset {offset} of the capture")


def read_record_at(path: Path, offset: int, cap: int = DEFAULT_PAYLOAD_CAP) -> StoredRecord:
    """Read the record starting at `offset` (a gzip member boundary or plain record start)."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        with open_regular(path) as f:
            f.seek(offset)
            for record in ArchiveIterator(f):
                return _to_stored(path, offset, record, cap)
    except OSError as exc:
        raise UnreadableInputError(f"{path}: cannot read WARC: {exc.strerror or exc}") from exc
    raise UnreadableInputError(f"{path}: no WARC record at offset {offset}")


def iter_records(path: Path, cap: int = DEFAULT_PAYLOAD_CAP,
                 types: tuple[str, ...] | None = None,
                 want_payload: Callable[[StoredRecord], bool] | None = None,
                 ) -> Iterator[StoredRecord]:
    """Records of a WARC/ARC file (only `types` if given); payloads are read only where
    `want_payload` says so (all when it is None)."""
    from warcio.archiveiterator import ArchiveIterator

    with open_regular(path) as f:
        it = ArchiveIterator(f, arc2warc=True)
        try:
            for record in it:
                if types is None or record.rec_type in types:
                    stored = _to_stored(path, -1, record, cap, want_payload)
                    # only after the payload is read: get_record_offset() consumes the record
                    stored.offset = it.get_record_offset()
                    yield stored
        except Exception as exc:  # warcio and zlib fail in many ways on damaged bytes
            # it.offset: where the record that failed began (the end of the last good one)
            raise DamagedFileError(str(path), it.offset, _short(exc)) from exc


def _short(exc: Exception, limit: int = 160) -> str:
    """One printable line about a parse error (warcio quotes the damaged bytes it met)."""
    text = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in str(exc))
    return f"{type(exc).__name__}: {text[:limit]}" + ("..." if len(text) > limit else "")


def record_ids(path: Path) -> Iterator[tuple[str, str, int]]:
    """(record id, type, offset) for every record, without reading payloads."""
    from warcio.archiveiterator import ArchiveIterator

    with open_regular(path) as f:
        it = ArchiveIterator(f, arc2warc=True)
        for record in it:
            yield record.rec_headers.get_header("WARC-Record-ID") or "", record.rec_type, \
                it.get_record_offset()


HEADER_READ = 1024  # compressed bytes per step: a WARC header block inflates from a few hundred
MAX_HEADER = 64 * 1024


def record_ids_at(path: Path, offsets: list[int]) -> dict[int, str | None]:
    """The WARC-Record-ID of the record starting at each offset (None where none does),
    reading only the header block, with the file opened once. Audit calls this for every
    record the manifest names, so it inflates a few KB, not whole records."""
    found: dict[int, str | None] = {}
    with open_regular(path) as f:
        for offset in offsets:
            f.seek(offset)
            block, _ = _header_block(iter(lambda: f.read(HEADER_READ), b""))
            found[offset] = _record_id(block)
    return found


def record_ids_in(chunk: memoryview, start: int, offsets: list[int]) -> dict[int, str | None]:
    """record_ids_at for those of the sorted `offsets` whose header block lies wholly inside
    `chunk`, the file's bytes from offset `start`: audit reads them from the buffer it hashes,
    so a file is read once. The others (outside the chunk, or a block running past its end)
    are left out, for record_ids_at."""
    found: dict[int, str | None] = {}
    # bisect: a 1 GB rolling WARC is ~1,000 chunks and thousands of records
    inside = offsets[bisect_left(offsets, start):bisect_left(offsets, start + len(chunk))]
    for offset in inside:
        at = offset - start
        block, complete = _header_block(chunk[i:i + HEADER_READ]
                                        for i in range(at, len(chunk), HEADER_READ))
        if complete:
            found[offset] = _record_id(block)
    return found


def _header_block(pieces: Iterator[bytes | memoryview]) -> tuple[bytes, bool]:
    """Bytes up to the first blank line, from successive pieces of the record (inflated if
    it is a gzip member), and whether the block ended (blank line, end of the gzip member,
    MAX_HEADER, or damage: b"") before the pieces did."""
    head = next(pieces, b"")
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16) if head[:2] == b"\x1f\x8b" else None
    out = b""
    while head:
        try:
            out += inflate.decompress(head) if inflate else head
        except zlib.error:
            return b"", True
        if b"\r\n\r\n" in out or (inflate is not None and inflate.eof) \
                or len(out) >= MAX_HEADER:
            return out.split(b"\r\n\r\n", 1)[0], True
        head = next(pieces, b"")
    return out.split(b"\r\n\r\n", 1)[0], False


def _record_id(block: bytes) -> str | None:
    lines = block.split(b"\r\n")
    if not lines or not lines[0].startswith(b"WARC/"):
        return None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"warc-record-id":
            return value.strip().decode("utf-8", "replace")
    return None
