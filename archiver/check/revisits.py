"""Every revisit record checked against the record it refers to (WARC 1.1 section 6.7).

A revisit holds no payload of its own: replay takes it from the record named by
WARC-Refers-To. So that record must exist in the archive, at the URI the revisit names, and
for the identical-payload-digest profile it must hold the payload the revisit's digest says.
The facts come from the catalog (derived from the manifest and the WARCs' own headers, and
caught up when opened)."""

from __future__ import annotations

from collections.abc import Iterator

from archiver.base.findings import Finding
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog


def check_revisits(archive: Archive) -> Iterator[Finding]:
    if not archive.manifest_path.is_file():
        return
    with Catalog.open(archive).for_scans() as catalog:
        rows = catalog.conn.execute(
            "SELECT r.file, r.offset, r.record_id, r.payload_digest, r.revisit_of, "
            "o.record_id, o.payload_digest, o.record_type FROM captures r "
            "LEFT JOIN captures o ON o.record_id = r.revisit_of "
            "WHERE r.record_type = 'revisit' ORDER BY r.file, r.offset").fetchall()
    for file, offset, rid, digest, refers_to, found, original_digest, original_type in rows:
        where = dict(offset=offset, record_id=rid)
        if not refers_to:
            yield Finding("error", "revisit-without-target", file,
                          "revisit record names no WARC-Refers-To record", **where)
        elif found is None:
            yield Finding("error", "revisit-target-missing", file,
                          f"revisit refers to {refers_to}, which is not in the archive",
                          **where)
        elif original_type == "revisit":
            yield Finding("error", "revisit-of-revisit", file,
                          f"revisit refers to {refers_to}, itself a revisit (no payload)",
                          **where)
        elif digest and original_digest != digest:
            yield Finding("error", "revisit-digest-mismatch", file,
                          f"revisit payload digest {digest} but {refers_to} holds "
                          f"{original_digest}", **where)
