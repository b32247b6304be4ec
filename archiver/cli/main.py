"""The `archiver` command group, and the one place where every command joins it.

Nothing imports this module back: each group module takes its shared options from
`archiver.cli.options`.

Exit codes: 0 all good; 1 the work ran and found problems (failed URLs, invalid articles,
audit findings); 2 usage errors or unreadable input.
"""

from __future__ import annotations

import logging

import click

from archiver import __version__
from archiver.cli import (
    capture,
    check,
    checkpointing,
    copies,
    crawl,
    extract,
    history,
    ingest,
    qa,
    replay,
    report,
    search,
    security,
    share,
    timestamping,
    verify,
)

# warcio logs what it mends in a record it reads (a WARC-Target-URI with spaces) as a
# warning, quoting the header as decoded, raw control characters included: from a damaged or
# hostile WARC that is binary junk, even terminal escapes, on the user's screen. archiver
# reports such records itself (a finding naming file and offset), so only warcio's errors
# pass.
logging.getLogger("warcio").setLevel(logging.ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """archiver: capture web pages into WARC 1.1, extract articles, and keep a hash-chained
    provenance manifest you can audit years later.

    \b
    Quick start (offline, the seed document):
      archiver ingest seeds/
      archiver audit
    """


# In the order of the data flow: write, derive, check, read, hand over, sign.
COMMANDS = [
    capture.capture, crawl.crawl, ingest.ingest, extract.extract,
    check.validate, check.audit, check.repair, copies.replicate,
    history.log, history.show_command, history.diff_command, history.ls_command,
    search.search,
    share.index_command, replay.replay_command, qa.qa_command, share.export_group,
    security.keygen, security.sign,
    timestamping.timestamp,
    verify.verify_command,
    report.report,
    checkpointing.checkpoint_command, checkpointing.cosign_command,
]
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="archiver")
