"""`archiver report`: a static, offline site about the archive (charts of what was captured,
health, a provenance page per article, a search box), built read-only from the catalog and
the manifest. `build.build_report` is the entry point; the modules are its stages:

- `chain`: one pass over manifest.jsonl (events per article, audits, crawl runs, copies);
- `figures`: the numbers behind every chart and table (catalog queries + the chain pass);
- `charts`: the figures drawn by matplotlib as inline SVG;
- `search_index`: the titles and bylines, folded as `archiver search` folds them;
- `pages`: the HTML (everything from the archive escaped);
- `build`: the order of work, the output folder and its checks.
"""
