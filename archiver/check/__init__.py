"""Checking what is stored: WARC conformance (warccheck), validate, audit, repair.

Below capture and ingest, so a writer may check its input (ingest validates a foreign WARC
before accepting it) and the read side may check before it hands anything on.
"""
