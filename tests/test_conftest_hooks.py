"""The suite's own guard: in CI an engine test that skips is a failure, never a silent green."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SKIPPING = """\
import pytest


@pytest.mark.engine
def test_needs_an_engine():
    pytest.skip("no engine here")


def test_unit():
    pytest.skip("a unit test may skip")
"""


def _pytest(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    # Not the outer run's PYTEST_ADDOPTS (the rehearsal deselects engine tests with it).
    env = {**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "-p", "tests.conftest", "-q", "-rA", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_skipped_engine_test_fails_in_ci(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 skipped" in proc.stdout
    assert "skipped in CI, where every engine test must run" in proc.stdout


def test_outside_ci_it_stays_a_skip(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "")
    assert proc.returncode == 0, proc.stdout
    assert "2 skipped" in proc.stdout
