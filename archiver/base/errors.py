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


class DamagedFileError(StoreError):
    """A stored file stops parsing at `offset` (a flipped byte, a torn copy): readers report
    it as a finding for that file and go on with the others."""

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        at = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"{path}: damaged{at}: {reason}")
        self.path, self.offset, self.reason = path, offset, reason


class ManifestError(StoreError):
    """The provenance manifest is unreadable or an entry would be invalid."""


class SchemaError(ArchiverError):
    """A document failed JSON Schema validation; `errors` lists (pointer, message)."""

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors
