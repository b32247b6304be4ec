"""Ingesting what was made elsewhere: local documents and foreign WARC/ARC files."""
