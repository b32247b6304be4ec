"""Every command, however deep, has help text with a working example (sqlite-utils' rule)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from archiver.cli.main import cli

Path = tuple[str, ...]


def all_commands(group: click.Group = cli, prefix: Path = ()) -> Iterator[Path]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


def test_the_expected_commands_are_registered():
    names = {path[0] for path in all_commands()}
    assert {"capture", "ingest", "extract", "validate", "audit", "log", "repair", "index",
            "export", "show", "diff", "ls", "keygen", "sign", "replay"} <= names
    exports = {path[1] for path in all_commands() if path[0] == "export" and len(path) == 2}
    assert {"wacz", "bag", "parquet", "csv", "jsonl"} <= exports


@pytest.mark.parametrize("path", list(all_commands()), ids=" ".join)
def test_command_has_help_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`archiver {' '.join(path)} --help` has no example"
    description = result.output.split("Options:")[0]
    assert len(description.split()) > 12, f"`archiver {' '.join(path)}` help is too thin"


def test_top_level_help_lists_a_quick_start():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "archiver ingest seeds/" in result.output
