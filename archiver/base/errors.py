"""One exception tree for the library; the CLI turns these into messages and exit codes."""


class ArchiverError(Exception):
    """Root of every error archiver raises on purpose."""


class UsageError(ArchiverError):
    """The user asked for something impossible (bad option, missing file, bad URL)."""


class UnreadableInputError(ArchiverError):
    """An input file exists but cannot be read or parsed (exit code 2)."""


class FetchError(ArchiverError):
    """A URL could not be fetched at all (DNS, refused, timeout, bad scheme)."""


class StoreError(ArchiverError):
    """The archive on disk could not be written or read as expected."""


class ManifestError(StoreError):
    """The provenance manifest is unreadable or an entry would be invalid."""


class SchemaError(ArchiverError):
    """A document failed JSON Schema validation; `errors` lists (pointer, message)."""

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors
