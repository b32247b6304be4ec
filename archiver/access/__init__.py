"""Using the archive (OAIS "Access"): snapshots and history, full-text search, replay with
pywb, research tables (Parquet, CSV, JSON Lines) and hand-over packages (WACZ, BagIt)."""
