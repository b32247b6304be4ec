"""Packages for sharing and for handing a collection to a repository: WACZ and BagIt.

Both carry what the manifest names (WARCs, article files) plus the manifest itself; files the
manifest does not name (leftovers of a crash) stay behind. Every file is checked against the
sha256 the manifest recorded before it is packed: a package computes fresh checksums, and
packing a corrupted file would launder the corruption into a package that validates.

- WACZ 1.1.1 (webrecorder) via py-wacz's indexer and datapackage writer; pages are the
  archive's 2xx HTML captures, titled from their articles.
- BagIt (RFC 8493) via bagit-python, sha256 + sha512 manifests; `data/` is an archive root
  (`archiver audit --archive BAG/data` works on it).

Outputs are built under a temporary name beside the target and renamed into place, so an
interrupted export leaves no half-package under the final name. Every file is checked before
anything is kept: each damaged one is a finding (for a WARC, the offsets `warccheck` locates)
and the export is refused as a whole (ExportRefused), never packed without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from archiver import SOFTWARE_NAME, __version__
from archiver.access import snapshots, wacz_signing
from archiver.access.wacz_signing import SignOptions
from archiver.base import agent
from archiver.base.cluster import Cluster, Task
from archiver.base.errors import StoreError, UsageError
from archiver.base.findings import Finding
from archiver.check import audit_cluster
from archiver.check.fixity import unreachable
from archiver.store import cdxj, manifest
from archiver.store.archive import COPY_CHUNK, Archive, fsync_dir, open_regular
from archiver.store.warc import WARC_SUFFIXES

WACZ_ARCHIVER_DIR = "archiver"  # our extras inside the WACZ: manifest, proofs, file map
# Folders of proofs beside the manifest (time-stamp tokens, checkpoints, cosignatures)
PROOF_DIRS = ("timestamps", "checkpoints", "proofs")
HTML_MIMES = ("text/html", "application/xhtml+xml")
# py-wacz would also index metadata records; ours (fetch timings, JSON) carry the page's URL
# and the same second, and replay tools then serve the JSON instead of the page. warcinfo is
# read for collection metadata, never indexed.
WACZ_INDEX_RECORDS = "response,revisit,resource,warcinfo"
Progress = Callable[[int], None]  # bytes done since the last call


@dataclass(frozen=True)
class PackFile:
    """A file to pack: its path in the archive and the digest the manifest recorded."""

    relpath: str
    sha256: str | None
    size: int
    data: bytes | None = None  # the manifest (and proofs), as read once under its lock
    proof: bool = False  # a proof beside the manifest (signatures, time-stamps, checkpoints)


@dataclass
class ExportResult:
    """What an export wrote."""

    kind: str  # "wacz" or "bag"
    path: str
    files: int
    bytes: int
    pages: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"export": self.kind, "path": self.path, "files": self.files,
                "bytes": self.bytes, "pages": self.pages, "warnings": self.warnings}


def software_agent() -> str:
    return f"{SOFTWARE_NAME}/{__version__}"


# ---------------------------------------------------------------- what goes in


def pack_list(archive: Archive, proofs: bool = False) -> list[PackFile]:
    """Every file the manifest names (the last entry naming a path gives its digest), in path
    order, then the manifest itself (and with `proofs`, the proof files beside it). The
    manifest is read once under its lock, so a capture running meanwhile neither tears it
    nor adds entries for files we do not pack; proofs are read under the same lock, since
    signers append them holding it: none can name a head the packed manifest lacks."""
    if not archive.manifest_path.is_file():
        raise UsageError(f"{archive.manifest_path}: no archive here")
    with manifest.lock_for_reading(archive):
        data = archive.manifest_path.read_bytes()
        extra = proof_files(archive) if proofs else []
    named: dict[str, PackFile] = {}
    for entry in _entries(data):
        for f in entry.get("files") or []:
            if f.get("path"):
                named[f["path"]] = PackFile(f["path"], f.get("sha256"), int(f.get("size", 0)),
                                            proof=is_proof(f["path"]))
    files = [named[p] for p in sorted(named)]
    files.append(PackFile("manifest.jsonl", hashlib.sha256(data).hexdigest(), len(data), data))
    return files + [p for p in extra if p.relpath not in named]


def is_proof(relpath: str) -> bool:
    """A file in a proof folder (a checkpoint or a time-stamp token a manifest event names)."""
    return relpath.split("/", 1)[0] in PROOF_DIRS


def proof_files(archive: Archive) -> list[PackFile]:
    """The proofs kept beside the manifest, found by name rather than listed one by one, so
    a new kind of proof travels without a change here: files `manifest.*.json(l)` at the
    root (manifest.sig.jsonl: the Ed25519 head signatures) and every file in a PROOF_DIRS
    folder (time-stamp tokens, checkpoints, cosignatures). Read whole: they are small."""
    found = [p for p in archive.root.glob("manifest.*")
             if p.name != "manifest.jsonl" and p.suffix in (".jsonl", ".json")]
    for folder in PROOF_DIRS:
        if (archive.root / folder).is_dir():
            found += (p for p in (archive.root / folder).rglob("*")
                      if not p.name.startswith(".") and p.suffix not in (".lock", ".tmp"))
    out = []
    for path in sorted(found):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        rel = path.relative_to(archive.root).as_posix()
        out.append(PackFile(rel, hashlib.sha256(data).hexdigest(), len(data), data, proof=True))
    return out


def _entries(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue  # a torn tail (power loss mid-append) names nothing reliably
        entry = manifest.parse_entry(line)
        if entry is not None:
            yield entry


def copy_verified(archive: Archive, item: PackFile, out: IO[bytes] | io.RawIOBase,
                  progress: Progress | None = None) -> int:
    """Copy one archive file to `out`, refusing it if its bytes no longer match the manifest."""
    if item.data is not None:
        out.write(item.data)
        if progress:
            progress(len(item.data))
        return len(item.data)
    h = hashlib.sha256()
    size = 0
    try:
        with open_regular(archive.resolve(item.relpath)) as f:
            while chunk := f.read(COPY_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
    except FileNotFoundError as exc:
        raise StoreError(f"{item.relpath}: named by the manifest but missing; "
                         "run `archiver audit`") from exc
    except OSError as exc:  # unreadable, or not a regular file: refused like damage
        raise StoreError(f"{item.relpath}: cannot read: {exc.strerror or exc}") from exc
    if item.sha256 and h.hexdigest() != item.sha256:
        raise StoreError(f"{item.relpath}: sha256 differs from the manifest (damaged?); "
                         "refusing to package it. Run `archiver audit`")
    return size


def verify_file(archive: Archive, item: PackFile, progress: Progress | None = None) -> None:
    copy_verified(archive, item, _NullWriter(), progress)


class ExportRefused(StoreError):
    """Some files the manifest names are damaged or missing: nothing was packaged."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("\n".join([f.render() for f in findings]
                                   + [f"{len({f.where for f in findings})} damaged or missing "
                                      "files; nothing packaged. Run `archiver audit`"]))
        self.findings = findings


def damage_findings(archive: Archive, item: PackFile, error: StoreError) -> list[Finding]:
    """What is wrong with a file that failed its check: the error, and for a WARC where it
    is damaged (warccheck's errors, with their offsets)."""
    found = [Finding("error", "damaged-file", item.relpath,
                     str(error).removeprefix(f"{item.relpath}: "))]
    path = archive.resolve(item.relpath)
    if item.relpath.endswith(WARC_SUFFIXES) and path.is_file():
        from archiver.check.warccheck import check_warc

        found += [f for f in check_warc(path, where=item.relpath).findings
                  if f.severity == "error"]
    return found


def check_all(archive: Archive, files: list[PackFile], progress: Progress | None = None,
              copy_to: Callable[[PackFile], IO[bytes]] | None = None) -> int:
    """Check (and with `copy_to`, copy) every file; raise ExportRefused naming every damaged
    or missing one, after all were looked at. Returns the bytes checked."""
    findings: list[Finding] = []
    total = 0
    for item in files:
        try:
            if copy_to is None:
                verify_file(archive, item, progress)
            else:
                with copy_to(item) as out:
                    total += copy_verified(archive, item, out, progress)
        except StoreError as exc:
            findings += damage_findings(archive, item, exc)
    if findings:
        raise ExportRefused(findings)
    return total




def check_on(cluster: Cluster, archive: Archive, files: list[PackFile],
             progress: Progress | None = None) -> None:
    """check_all on the cluster's workers, a batch of files per task: the same findings in
    the same order (files in path order), ExportRefused naming them all. The manifest, read
    here under its lock, is checked here."""
    local = [item for item in files if item.data is not None]
    check_all(archive, local, progress)
    findings: list[Finding] = []
    batches = _batches([item for item in files if item.data is None])
    tasks = (Task(check_files_task, (str(archive.root), batch), size)
             for batch, size in batches)
    for found, size in cluster.map_ordered(tasks, None, "export-check"):
        findings += found
        if progress:
            progress(size)
    if findings:
        raise ExportRefused(findings)


def _batches(files: list[PackFile]) -> Iterator[tuple[list[PackFile], int]]:
    batch: list[PackFile] = []
    size = 0
    for item in files:
        if batch and (size + item.size > audit_cluster.TASK_BYTES
                      or len(batch) >= audit_cluster.TASK_FILES):  # audit's task sizes
            yield batch, size
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch, size


def check_files_task(root: str, files: list[PackFile]) -> tuple[list[Finding], int]:
    """A worker's task: check_all over these files (reads only); their findings, and the
    bytes the manifest says they hold (for progress)."""
    size = sum(item.size for item in files)
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():  # this worker does not see the archive
        return [unreachable(item.relpath, root) for item in files], size
    try:
        check_all(archive, files)
    except ExportRefused as refused:
        return refused.findings, size
    return [], size


# ---------------------------------------------------------------- atomic output


@contextlib.contextmanager
def _atomic_output(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`; renamed onto it when the block succeeds."""
    target = target.absolute()
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise UsageError(f"{target}: already exists; choose a new name")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
    try:
        yield temp
        if target.is_dir():
            target.rmdir()  # an empty folder the user made for us
        os.replace(temp, target)
        fsync_dir(target.parent)
    finally:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        elif temp.exists():
            temp.unlink()


# ---------------------------------------------------------------- WACZ


def wacz_pages(archive: Archive, warc_relpaths: list[str]) -> list[dict[str, Any]]:
    """One page per 2xx HTML (or resource) capture in the index: url, ts, title (the
    article's title where one was extracted from that capture, else the URL).

    A browser capture's page (capture --browser) is written as Browsertrix Crawler writes its
    pages.jsonl rows (`id`, `url`, `ts`, `title`, `status`, `mime`, and `text`: the visible
    text, as its `--text to-pages` puts it), plus `attachments`: the witness records of that
    page (screenshots, DOM, text, TLS, provenance summary: kind, URI, record id, sha256,
    size). Replay tools find the screenshot by its URI, `urn:view:<page URL>`, in the
    package's index, as for a Browsertrix crawl."""
    from warcio.timeutils import iso_date_to_timestamp, timestamp_to_iso_date

    titles: dict[tuple[str, str], str] = {}
    by_record: dict[str, str] = {}  # source record id -> title
    for history in snapshots.histories(archive).values():
        for snap in history.snapshots:
            article = snap.load(archive)
            capture = article.get("capture") or {}
            url = capture.get("url") or article.get("url")
            if url and capture.get("warc_date") and article.get("title"):
                key = (str(url), iso_date_to_timestamp(capture["warc_date"]))
                titles[key] = str(article["title"])
                by_record[snap.record_id] = str(article["title"])
    witnessed = browser_pages(archive)
    pages: dict[tuple[str, str], dict[str, Any]] = {}
    for line in cdxj.index_lines(archive, warc_relpaths):
        cdx = cdxj.CdxjLine.parse(line)
        status = cdx.fields.get("status", "200")
        if cdx.fields.get("mime") not in HTML_MIMES or not status.startswith("2"):
            continue
        if cdx.url.startswith("urn:"):  # a browser capture's attachment (urn:dom:), no page
            continue
        key = (cdx.url, cdx.timestamp)
        page: dict[str, Any] = {"url": cdx.url, "ts": timestamp_to_iso_date(cdx.timestamp),
                                "title": titles.get(key, cdx.url)}
        witness = witnessed.get((Path(cdx.filename).name, int(cdx.fields.get("offset", -1))))
        if witness is not None:
            # its article may come from the rendered-DOM record (dated after the page)
            title = next((by_record[r] for r in witness.article_records if r in by_record),
                         page["title"])
            page = {"id": witness.page_id, **page, "title": title, "status": int(status),
                    "mime": cdx.fields["mime"]}
            if witness.text is not None:
                page["text"] = witness.text
            page["attachments"] = witness.attachments
        pages[key] = page
    return [pages[k] for k in sorted(pages, key=lambda k: (k[1], k[0]))]


@dataclass(frozen=True)
class WitnessedPage:
    """A browser capture's page record and what the browser saw of it."""

    page_id: str  # the page record's uuid (Browsertrix: the page id, a uuid)
    attachments: list[dict[str, Any]]
    text: str | None  # the visible text (the urn:text: record)
    article_records: tuple[str, ...] = ()  # records its articles came from (page or DOM)


def browser_pages(archive: Archive) -> dict[tuple[str, int], WitnessedPage]:
    """(WARC file name, offset) of each browser capture's page record -> its witness."""
    out: dict[tuple[str, int], WitnessedPage] = {}
    for entry in manifest.iter_entries(archive.manifest_path):
        browser = entry.get("browser")
        if entry.get("event") != "capture" or not isinstance(browser, dict) \
                or not browser.get("page_record"):
            continue
        records = {r["id"]: r for r in entry.get("records") or [] if isinstance(r, dict)}
        page = records.get(browser["page_record"])
        if page is None or "offset" not in page:
            continue
        attachments = [{k: a[k] for k in ("kind", "uri", "record_id", "sha256", "size")
                        if k in a} for a in browser.get("attachments") or []]
        text = next((records.get(a["record_id"]) for a in attachments
                     if a["kind"] == "text"), None)
        out[(Path(page["file"]).name, int(page["offset"]))] = WitnessedPage(
            page["id"].removeprefix("<urn:uuid:").rstrip(">"), attachments,
            _text_of(archive, text) if text else None,
            tuple(str(a.get("record_id")) for a in entry.get("articles") or []))
    return out


def _text_of(archive: Archive, record: dict[str, Any]) -> str | None:
    from archiver.store.warc import read_record_at

    try:
        stored = read_record_at(archive.resolve(record["file"]), int(record["offset"]),
                                cap=16 * 1024 * 1024)
    except (OSError, StoreError, ValueError):
        return None  # the export's own check of every WARC reports a damaged one
    return stored.payload.decode("utf-8", "replace")


def export_wacz(archive: Archive, out: Path, title: str | None = None,
                progress: Progress | None = None, cluster: Cluster | None = None,
                files: list[PackFile] | None = None,
                sign: SignOptions | None = None) -> ExportResult:
    """Write a WACZ 1.1.1 of the archive to `out` (`files`: pack_list's with proofs, when the
    caller has it already); with a Dask `cluster`, the files are checked on its workers (this
    process alone writes the package). With `sign`, datapackage-digest.json carries a
    signedData (WACZ Signing and Verification 0.1.0)."""
    if sign is not None:
        sign.check()
    files = pack_list(archive, proofs=True) if files is None else files
    warcs = [f for f in files if f.relpath.endswith(WARC_SUFFIXES)]
    if not warcs:
        raise UsageError(f"{archive.root}: no WARC files to package")
    _check_unique_names(warcs)
    # py-wacz reads the WARCs itself: check them first
    if cluster is not None:
        check_on(cluster, archive, files, progress)
    else:
        check_all(archive, files, progress)
    pages = wacz_pages(archive, [w.relpath for w in warcs])
    result = ExportResult("wacz", str(out), 0, 0, pages=len(pages))
    with _atomic_output(out) as temp:
        with zipfile.ZipFile(temp, "w") as zf:
            result.warnings += _write_wacz_core(archive, zf, warcs, pages)
            _write_wacz_extras(archive, zf, files)
            _write_datapackage(zf, title or f"{SOFTWARE_NAME} archive {archive.root.name}",
                               sign)
            result.files = len(zf.infolist())
        _fsync(temp)
        result.bytes = temp.stat().st_size
    return result


def _check_unique_names(warcs: list[PackFile]) -> None:
    """WACZ keeps WARCs flat in archive/; two files with one name cannot both go in."""
    seen: dict[str, str] = {}
    for item in warcs:
        name = Path(item.relpath).name
        if name in seen:
            raise StoreError(f"{item.relpath} and {seen[name]} share a file name; "
                             "a WACZ holds WARCs in one folder")
        seen[name] = item.relpath


def _write_wacz_core(archive: Archive, zf: zipfile.ZipFile, warcs: list[PackFile],
                     pages: list[dict[str, Any]]) -> list[str]:
    """Index, pages and WARCs, as py-wacz's own `create` lays them out."""
    from wacz.main import DEFAULT_NUM_LINES, PAGE_INDEX
    from wacz.util import construct_passed_pages_dict, now
    from wacz.waczindexer import WACZIndexer

    inputs = [str(archive.resolve(w.relpath)) for w in warcs]
    passed = construct_passed_pages_dict([json.dumps(p) for p in pages])
    index_buff = io.BytesIO()
    text = io.TextIOWrapper(index_buff, "utf-8", write_through=True)
    with contextlib.redirect_stdout(io.StringIO()):  # py-wacz reports progress with print()
        with zf.open(zipfile.ZipInfo("indexes/index.cdx.gz", now()), "w") as data:
            indexer = WACZIndexer(
                text, inputs, sort=True, post_append=True, compress=data,
                lines=DEFAULT_NUM_LINES, digest_records=True, fields="referrer",
                records=WACZ_INDEX_RECORDS,
                data_out_name="index.cdx.gz", hash_type="sha256", main_url=None,
                main_ts=None, detect_pages=False, passed_pages_dict=passed,
                extract_text=False, signing_url=None, signing_token=None, split_seeds=False)
            indexer.process_all()
        idx = zipfile.ZipInfo("indexes/index.idx", now())
        idx.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(idx, index_buff.getvalue())
        for item, path in zip(warcs, inputs, strict=True):
            # Stored, not deflated (WACZ 1.1.1): replay reads records by offset.
            info = zipfile.ZipInfo.from_file(path, "archive/" + Path(item.relpath).name)
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, "w") as out, open_regular(path) as src:
                shutil.copyfileobj(src, out, COPY_CHUNK)
        if indexer.pages:
            # hasText, as Browsertrix's header says when rows carry the page's text
            indexer.write_page_list(zf, PAGE_INDEX, indexer.serialize_json_pages(
                indexer.pages.values(), id="pages", title="Pages",
                has_text=any("text" in p for p in pages)))
    return [f"page not found in the WARCs: {key}" for key in indexer.passed_pages_dict]


def _write_wacz_extras(archive: Archive, zf: zipfile.ZipFile, files: list[PackFile]) -> None:
    """The manifest, the article files and the proofs (signatures, time-stamp tokens,
    checkpoints), plus a map back to their archive paths.

    `wacz validate` accepts files only one folder deep, so articles/<id>/<snapshot>.json is
    packed as articles/<id>_<snapshot>.json; archiver/files.jsonl maps each packed name to
    the archive path and the sha256 the manifest recorded."""
    from wacz.util import now

    mapping: list[dict[str, Any]] = []
    for item in files:
        if item.proof:  # one folder deep, as for articles: timestamps/X.tsr -> timestamps_X.tsr
            name = f"{WACZ_ARCHIVER_DIR}/" + item.relpath.replace("/", "_")
        elif item.relpath.endswith(WARC_SUFFIXES):
            name = "archive/" + Path(item.relpath).name
        elif item.relpath == "manifest.jsonl":
            name = f"{WACZ_ARCHIVER_DIR}/manifest.jsonl"
        else:
            name = "articles/" + "_".join(Path(item.relpath).parts[1:])
        if not name.startswith("archive/"):
            info = zipfile.ZipInfo(name, now())
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as out:
                copy_verified(archive, item, out)
        mapping.append({"packed": name, "path": item.relpath, "sha256": item.sha256})
    body = "".join(json.dumps(m, sort_keys=True) + "\n" for m in mapping).encode()
    info = zipfile.ZipInfo(f"{WACZ_ARCHIVER_DIR}/files.jsonl", now())
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, body)


def _write_datapackage(zf: zipfile.ZipFile, title: str, sign: SignOptions | None) -> None:
    """datapackage.json (every entry hashed) and its digest, by py-wacz, then naming
    archiver as the software (users asked for tool versions in package metadata); signed
    with `sign`, its `created` being the signature's (py-wacz requires the two equal)."""
    from wacz.util import get_py_wacz_version, now
    from wacz.waczindexer import WACZIndexer

    writer = WACZIndexer(io.StringIO(), [], hash_type="sha256", main_url=None, main_ts=None)
    options = SimpleNamespace(desc=f"Exported by {software_agent()}", title=title, date=None)
    package = json.loads(writer.generate_datapackage(options, zf))
    package["software"] = f"{software_agent()} (py-wacz {get_py_wacz_version()})"
    package["archiver"] = {"version": __version__, "libraries": agent.library_versions()}
    if sign is not None:
        package["created"] = wacz_signing.created_now()
    data = json.dumps(package, indent=2).encode("utf-8")
    info = zipfile.ZipInfo("datapackage.json", now())
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    digest = zipfile.ZipInfo("datapackage-digest.json", now())
    digest.compress_type = zipfile.ZIP_DEFLATED
    body = json.loads(writer.generate_datapackage_digest(data))
    if sign is not None:
        body["signedData"] = wacz_signing.sign(body["hash"], package["created"],
                                               software_agent(), sign)
    zf.writestr(digest, json.dumps(body, indent=2))


# ---------------------------------------------------------------- BagIt


@dataclass(frozen=True)
class BagInfo:
    """bag-info.txt fields we are asked for (the rest bagit-python fills in)."""

    source_organization: str
    external_identifier: str
    description: str = "archiver archive: WARC 1.1 captures, articles, provenance manifest"

    def to_dict(self) -> dict[str, str]:
        import bagit

        return {
            "Source-Organization": self.source_organization,
            "External-Identifier": self.external_identifier,
            "External-Description": self.description,
            "Bagging-Date": datetime.now(UTC).date().isoformat(),
            "Bag-Software-Agent": f"{software_agent()} (bagit.py {bagit.VERSION})",
        }


def default_bag_info(archive: Archive, organization: str | None,
                     identifier: str | None) -> BagInfo:
    """Organization: given, else $ARCHIVER_ORGANIZATION, else the operator. Identifier:
    given, else the manifest head hash, which names exactly this state of the archive."""
    org = organization or os.environ.get("ARCHIVER_ORGANIZATION") or agent.default_operator()
    if identifier is None:
        last = manifest.read_last(archive.manifest_path)
        identifier = f"{archive.root.name} manifest {last['hash']}" if last else archive.root.name
    return BagInfo(org, identifier)


def export_bag(archive: Archive, out: Path, info: BagInfo,
               progress: Progress | None = None, cluster: Cluster | None = None,
               files: list[PackFile] | None = None) -> ExportResult:
    """Write a BagIt bag of the archive to the folder `out` (new or empty; `files` as for
    export_wacz). With a Dask
    `cluster`, every file is checked on its workers before this process copies any (and
    checks again as it copies: the copy must be of the bytes the manifest names)."""
    import bagit

    files = pack_list(archive) if files is None else files
    if cluster is not None:
        check_on(cluster, archive, files)
    result = ExportResult("bag", str(out), len(files), 0)
    with _atomic_output(out) as temp:
        temp.mkdir()

        def create(item: PackFile) -> IO[bytes]:
            target = temp / item.relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            return open(target, "xb")

        result.bytes = check_all(archive, files, progress, copy_to=create)
        # make_bag moves the folder's contents into data/ and chdirs while it works.
        bag = bagit.make_bag(str(temp), info.to_dict(), checksums=["sha256", "sha512"])
        _declare_rfc8493(bag)
        bagit.Bag(str(temp)).validate()  # what `bagit.py --validate` checks
    return result


def _declare_rfc8493(bag: Any) -> None:
    """bagit-python 1.9 writes BagIt-Version 0.97; the bag is RFC 8493 (1.0) as made, so
    say so, and let bagit-python rewrite the tag manifests over the changed bagit.txt."""
    bagit_txt = Path(bag.path) / "bagit.txt"
    bagit_txt.write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
                         encoding="utf-8")
    bag.save(manifests=False)


# ---------------------------------------------------------------- helpers


class _NullWriter(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
