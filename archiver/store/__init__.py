"""The archive on disk: layout and atomic writes, WARC reading and writing, the manifest
hash chain, the CDXJ index and manifest signatures.

The store knows bytes and files, never what an article is: extraction sits above it.
"""
