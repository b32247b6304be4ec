"""Who and what did the work: the software agent named in warcinfo and in every manifest event."""

from __future__ import annotations

import getpass
import os
import platform
import socket
from functools import cache

from archiver import SOFTWARE_NAME, __version__

# The libraries whose behaviour shapes what is stored; their versions travel with every event
# (users of warcprox and browsertrix asked for exactly this).
RECORDED_LIBRARIES = ("warcio", "requests", "urllib3", "beautifulsoup4", "lxml", "cssselect",
                      "trafilatura", "jsonschema")


def software() -> str:
    return f"{SOFTWARE_NAME}/{__version__}"


def user_agent() -> str:
    return f"{SOFTWARE_NAME}/{__version__} (web archiving; +python-requests)"


@cache
def library_versions() -> dict[str, str]:
    from importlib import metadata  # ~6 ms; only writers of events need it, not audit

    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def default_operator() -> str:
    try:
        return os.environ.get("ARCHIVER_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def hostname() -> str:
    return socket.gethostname()


def describe(operator: str | None = None) -> dict[str, object]:
    """The agent block of a manifest event."""
    return {
        "software": SOFTWARE_NAME,
        "version": __version__,
        "libraries": library_versions(),
        "operator": operator or default_operator(),
        "hostname": hostname(),
    }
