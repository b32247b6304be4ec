"""Fetching from the web: the HTTP client that records raw bytes, the records of one capture,
capture runs, and the crawler (crawl/), all committed through the pipeline's group committer."""
