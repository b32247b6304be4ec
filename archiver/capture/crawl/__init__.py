"""`archiver crawl`: discover a site's pages from seeds, links, sitemaps and feeds and capture
them politely, with their page requisites, through the same fetch -> store -> extract ->
manifest path that `capture` uses. One module per job:

- `urls`: canonical URLs and the SURT seen key
- `robots`: robots.txt rules per host (protego)
- `discover`: links, requisites, feeds and sitemaps found in stored payloads
- `scope`: which URLs are in scope (page, prefix, host, domain, include/exclude)
- `traps`: URL length, path depth, repeated segments
- `frontier`: the frontier, seen set and host state in SQLite (crawls/<id>/state.sqlite)
- `pacing`: per-host politeness (delay, Crawl-delay, back-off, pauses)
- `adapter`: the one place that calls the capture/store API
- `engine`: the crawl loop that ties them together
"""
