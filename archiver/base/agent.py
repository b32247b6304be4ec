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


# A manifest names each agent once (PREMIS 3 §4, Agent entity: agentIdentifier, then events'
# linkingAgentIdentifier): the first entry a writer appends carries the whole description
# with its `id`, later ones only {"id": ...}. The id is the sha256 of the description's
# canonical JSON, so a declaration proves itself and equal agents get equal ids.
AGENT_FIELDS = ("software", "version", "libraries", "operator", "hostname")


def identify(description: dict[str, object]) -> str:
    """The identifier of an agent description (its fields without `id`)."""
    import hashlib
    import json

    body = {k: v for k, v in description.items() if k != "id"}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def is_reference(value: object) -> bool:
    """{"id": ...} and nothing else: an agent declared by an earlier entry."""
    return isinstance(value, dict) and set(value) == {"id"}


def is_inline(value: object) -> bool:
    """The 0.1/0.2 form (a whole description, no id), which is also what new_event makes."""
    return isinstance(value, dict) and "id" not in value and "software" in value
