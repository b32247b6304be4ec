"""`capture --browser`: a headless Chromium whose every request goes through archiver's own
recording proxy (proxy.py), page steps bounded in time (page.py), and the run that turns a
page's exchanges and attachments into one capture (run.py)."""
