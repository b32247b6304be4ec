"""Attachment records of a browser capture: what the browser saw, beside the raw exchanges.

Each attachment is a WARC `resource` record (WARC 1.1 section 6.4: content not from an HTTP
exchange) tied to the page it belongs to: `WARC-Refers-To-Target-URI` names the page URL and
`WARC-Concurrent-To` the page's response record (section 5.7: records of one capture event).

Record URIs follow Browsertrix Crawler's `urn:<kind>:<page URL>` scheme (`urn:view:`,
`urn:text:`), not Scoop's `file:///screenshot.png`: a file name is the same for every page,
so in a WARC holding many pages it identifies nothing, while `urn:<kind>:<url>` is unique per
page, says what it is, and is never mistaken by pywb for the page itself (it is not an
http(s) URL). See README "Witness capture".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from archiver.store.warc import WarcFileWriter, sha256_label

# kind -> (URI prefix, what it holds)
KINDS = {
    "screenshot-full": "urn:fullPage:",  # full-page PNG (Browsertrix's name for it)
    "screenshot-view": "urn:view:",  # the viewport PNG (Browsertrix)
    "dom": "urn:dom:",  # HTML serialised after scripts ran
    "text": "urn:text:",  # the visible text (Browsertrix)
    "pdf": "urn:pdf:",  # the page printed to PDF
    "tls": "urn:tls:",  # TLS facts of one origin's handshake (JSON, chain as PEM)
    "summary": "urn:provenance:",  # the provenance summary (HTML)
}


@dataclass(frozen=True)
class Attachment:
    kind: str
    data: bytes
    content_type: str
    subject: str  # the URL (or origin, for tls) after the prefix
    headers: tuple[tuple[str, str], ...] = ()  # more WARC headers (WARC-Protocol on tls)

    @property
    def uri(self) -> str:
        return KINDS[self.kind] + self.subject


def write_attachment(writer: WarcFileWriter, attachment: Attachment, page_url: str,
                     page_record_id: str | None, when: datetime) -> dict[str, object]:
    """One resource record; returns its entry for the capture's manifest `browser.attachments`.
    The block is the attachment itself, so its payload digest is the block's."""
    sha = hashlib.sha256(attachment.data).digest()
    extra = [("WARC-Refers-To-Target-URI", page_url)]
    if page_record_id:
        extra.append(("WARC-Concurrent-To", page_record_id))
    extra += list(attachment.headers)
    ref = writer.write_record("resource", attachment.uri, attachment.data, when,
                              content_type=attachment.content_type,
                              payload_digest=sha256_label(sha), extra=extra)
    return {"kind": attachment.kind, "uri": attachment.uri, "record_id": ref.record_id,
            "sha256": sha.hex(), "content_type": attachment.content_type,
            "size": len(attachment.data)}
