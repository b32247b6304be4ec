"""Fetching from the web: the HTTP client that records raw bytes, and capture runs."""
