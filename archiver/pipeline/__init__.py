"""The one path from stored bytes to the manifest: store a WARC, derive the article from the
stored record, place the article file, append the manifest entry.

Capture, ingest and `extract --all` all go through here, so a record is handled the same
way however it arrived.
"""
