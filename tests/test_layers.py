"""The stage layers declared in pyproject.toml ([tool.importlinter]) hold: no upward import,
no click outside archiver.cli, no import circle inside a package. A new one fails CI here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's own command on the package found first on the path from `project`."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
         " sys.exit(lint_imports_command())", "--no-cache"],
        cwd=project, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(project)},
    )


def test_layer_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The contracts can fail: a copy of the package where the store imports the CLI."""
    shutil.copytree(ROOT / "archiver", tmp_path / "archiver")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    cdxj = tmp_path / "archiver" / "store" / "cdxj.py"
    cdxj.write_text(cdxj.read_text() + "\nfrom archiver.cli import options  # upward\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "archiver.store.cdxj -> archiver.cli.options" in result.stdout


def test_every_package_is_listed_for_the_wheel() -> None:
    """pyproject lists its packages by hand (archiver._schemas is mapped from schemas/): a
    new package missing there is absent from `pip install .`, though tests run from the
    checkout would never see it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "archiver").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
