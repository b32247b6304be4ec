"""The package type-checks cleanly under the [tool.mypy] settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_reports_no_errors(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # A private cache: parallel workers or a developer's own mypy run never share one.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache"), "archiver"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
