"""The pywb process that `archiver replay` starts: `python -m archiver.access.pywb_server
CONFIG HOST PORT`. Run only as its own process (it monkey-patches the interpreter for gevent,
as pywb's own `wayback` command does); nothing in archiver imports it.

It differs from `wayback` in three ways, each needed by replay:

- WARC paths resolve through `SealedOrOpen`, so a rolling WARC still being written
  (`<name>.open` on disk, `<name>` in the index, CONTRACTS.md) replays, and so does a file
  the index named while open and that has been sealed since. pywb's config file can only
  name path prefixes, never a suffix, hence a resolver object.
- A port that cannot be bound is one line on stderr and exit 2, not a traceback.
- Ctrl-C (SIGINT) or SIGTERM stops the server with exit 0, and the server stops by itself
  if the `archiver replay` process that started it dies (no orphan keeps the port).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from archiver.store.rolling import OPEN_SUFFIX

EXIT_USAGE = 2
PARENT_CHECK_SECONDS = 1.0


class SealedOrOpen:
    """pywb path resolver: an index `filename` (relative to the archive root) to the paths
    to try, the name as given first, then its `.open` twin (or sealed twin)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def __call__(self, filename: str, cdx: Any = None) -> list[str]:
        path = os.path.realpath(os.path.join(self.root, filename))
        if os.path.commonpath([path, self.root]) != self.root:
            return []  # an index line pointing outside the archive is not served
        twin = path.removesuffix(OPEN_SUFFIX) if path.endswith(OPEN_SUFFIX) \
            else path + OPEN_SUFFIX
        return [path, twin]

    def __repr__(self) -> str:
        return f"SealedOrOpen({self.root!r})"


def load_config(path: str) -> dict[str, Any]:
    """Our generated config.yaml, with each collection's archive_paths (the archive root)
    replaced by a SealedOrOpen resolver over it."""
    import yaml  # a pywb dependency

    with open(path, encoding="utf-8") as f:
        config: dict[str, Any] = yaml.safe_load(f)
    for coll in config.get("collections", {}).values():
        coll["archive_paths"] = [SealedOrOpen(coll["archive_paths"])]
    return config


def _watch_parent(parent: int) -> None:
    """Exit when the process that started us is gone (re-parented: getppid changes)."""
    import gevent

    while os.getppid() == parent:
        gevent.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def main(argv: list[str]) -> int:
    config_path, host, port = argv[0], argv[1], int(argv[2])
    parent = os.getppid()

    from gevent.monkey import patch_all

    patch_all()
    import gevent
    from gevent.pywsgi import WSGIServer
    from pywb.apps.frontendapp import FrontEndApp
    from pywb.utils.geventserver import RequestURIWSGIHandler

    # config_file=os.devnull: pywb would otherwise read ./config.yaml, and a collection
    # named there overrides the same collection passed in custom_config.
    app = FrontEndApp(config_file=os.devnull, custom_config=load_config(config_path))
    server = WSGIServer((host, port), app, handler_class=RequestURIWSGIHandler)
    try:
        server.init_socket()
    except OSError as exc:
        print(f"pywb cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    for signum in (signal.SIGINT, signal.SIGTERM):
        # gevent runs the handler in a greenlet; stop() makes serve_forever return.
        gevent.signal_handler(signum, server.stop, 1)
    gevent.spawn(_watch_parent, parent)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
