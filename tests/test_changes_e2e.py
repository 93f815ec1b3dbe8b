"""``run --changes`` with real cells (issue 19): metapath on Python 3.11 over every pip release from
19.2 (the oldest that installs on 3.10+) to the newest, on docker. The exact first releases of its two
changes are found, each measured on both sides, for a fraction of the axis: the ends and the two
sides of each change its expect: claims; a second run takes every cell from the result cache. (The
search from the ends alone, and a claim that is wrong, are tested in test_changes.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, require_engine

pytestmark = [pytest.mark.engine, pytest.mark.docker]
ARGS = ["run", "--changes", "--scenario", "metapath", "--engine", "docker", "--python", "3.11"]
ARGS += ["--frontend", "pip", "--mode", "default"]


def _run(tmp_path: Path, name: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / name
    args = [sys.executable, "-m", "isolation_harness", *ARGS, "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    (folder,) = out.iterdir()
    (axis,) = json.loads((folder / "changes.json").read_text())["axes"]
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert sorted(r["pip"]["version"] for r in records) == sorted(axis["measured"])  # records: what was measured
    return proc.stdout, axis


def test_metapath_changes_on_311_over_every_release(tmp_path: Path) -> None:
    from isolation_harness.engines.docker import daemon_answers

    require_engine("docker", daemon_answers())
    stdout, axis = _run(tmp_path, "cold")
    assert axis["releases"][0] == "19.2"
    assert axis["changes"] == [
        {"last_same": "19.3.1", "first_changed": "20.0.1", "before": "unsupported", "after": "broke"},
        {"last_same": "24.3.1", "first_changed": "25.0", "before": "broke", "after": "leaked"},
    ]
    measured = axis["measured"]
    # The ends, and 19.3.1/20.0.1 and 24.3.1/25.0 (expect: <20 unsupported, <25 broke, >=25 leaked):
    # six cells confirm both claims, nothing left to halve (13 from the ends alone).
    assert sorted(measured) == sorted(["19.2", "19.3.1", "20.0.1", "24.3.1", "25.0", axis["releases"][-1]]), stdout
    assert axis["claimed"] == ["20.0.1", "25.0"]
    assert "first leaked at pip 25.0 (24.3.1: broke) (expected)" in stdout
    assert "no change at" not in stdout

    # Again: every cached release is a seed, so the same cells are measured, none of them run.
    stdout, again = _run(tmp_path, "warm")
    assert (again["changes"], again["measured"]) == (axis["changes"], measured)
    assert f"cache: {len(measured)} cells reused from earlier runs" in stdout, stdout
