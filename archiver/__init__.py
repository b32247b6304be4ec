"""archiver: archival ingestion with provenance (WARC 1.1, articles, hash-chained manifest)."""

__version__ = "0.2.0"
SOFTWARE_NAME = "archiver"

__all__ = ["SOFTWARE_NAME", "__version__"]
