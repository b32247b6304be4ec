"""Using the archive (OAIS "Access"): snapshots and history, and hand-over packages
(WACZ, BagIt)."""
