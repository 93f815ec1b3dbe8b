"""The result cache with real cells (issue 19): metapath on Python 3.11 with pip 24.0 (broke, pip
#11812) and 25.0 (leaked: the fix loads the backend from backend-path, the host finder still there)
through the command line, on docker.

A second run of the same cells runs nothing and gives the same verdicts from the same evidence; a
recheck runs cached cells again for real and agrees; a changed input (the time limit) is a new key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, copy_repo_inputs, require_engine

pytestmark = [pytest.mark.engine, pytest.mark.docker]
ARGS = ["run", "--scenario", "metapath", "--engine", "docker", "--python", "3.11", "--frontend", "pip"]
ARGS += ["--mode", "default", "--pip", "24.0", "--pip", "25.0"]


def _run(tmp_path: Path, name: str, *extra: str) -> tuple[str, dict[str, dict[str, Any]]]:
    out = tmp_path / name
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "isolation_harness",
            *ARGS,
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    (folder,) = out.iterdir()
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    return proc.stdout, {r["pip"]["version"]: {**r, "_folder": folder} for r in records}


def _facts(record: dict[str, Any]) -> tuple[Any, ...]:
    experiment = record["experiment"]
    return (
        record["verdict"],
        experiment["backend_in_backend_path"],
        experiment["foreign_finders"],
        experiment["error"],
    )


def test_a_second_run_reuses_real_cells_and_a_recheck_agrees(tmp_path: Path) -> None:
    from isolation_harness.engines.docker import daemon_answers

    require_engine("docker", daemon_answers())
    _, first = _run(tmp_path, "first")
    assert {pip: r["verdict"] for pip, r in first.items()} == {"24.0": "broke", "25.0": "leaked"}
    assert "BackendInvalid" in (first["24.0"]["experiment"]["error"] or "")
    run_id = first["24.0"]["run_id"]
    assert all(r["cache_key"] and "cached_from" not in r for r in first.values())

    stdout, second = _run(tmp_path, "second")
    assert "cache: 2 cells reused from earlier runs" in stdout, stdout
    for pip, record in second.items():
        assert record["cached_from"] == run_id
        assert record["cache_key"] == first[pip]["cache_key"]
        assert _facts(record) == _facts(first[pip])  # judged again from the same probe reports
        assert record["duration"] == first[pip]["duration"]  # the measured time, for shard plans
        log = record["_folder"] / record["experiment"]["log"]
        assert log.is_file()  # the evidence is copied into the new run folder

    stdout, rechecked = _run(tmp_path, "rechecked", "--recheck", "100")
    assert "2 cached cells rechecked for real: 0 disagree" in stdout, stdout
    for pip, record in rechecked.items():
        assert "cached_from" not in record
        assert record["rechecked"] == {"run_id": run_id, "verdict": first[pip]["verdict"]}
        assert _facts(record) == _facts(first[pip])

    # Another time limit is another cell: its key differs, and it runs.
    stdout, other = _run(tmp_path, "other", "--timeout", "250")
    assert "cache:" not in stdout
    assert all("cached_from" not in r and r["cache_key"] != first[p]["cache_key"] for p, r in other.items())


def test_a_pip_that_cannot_prepare_is_that_cells_error_not_the_runs(tmp_path: Path) -> None:
    """pip 19.0 cannot install anything on Python 3.10+ (matrix.yaml now says so). With that rule taken
    out, its cell runs without a prepared environment, fails in its own driver and is recorded
    `error` with the reason; the run goes on (it once stopped at the first such pip, exit 2)."""
    from isolation_harness.engines.docker import daemon_answers

    require_engine("docker", daemon_answers())
    copy_repo_inputs(tmp_path)
    matrix = tmp_path / "matrix.yaml"
    text = matrix.read_text()
    rule = text.index('  - pip: "<19.2"')
    matrix.write_text(text[:rule] + text[text.index("  - pip:", rule + 1) :])
    args = [*ARGS[:-4], "--pip", "19.0", "--pip", "19.3.1", "--scenarios-dir", str(tmp_path / "scenarios")]
    proc = subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args, "--matrix", str(matrix), "--out", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]  # a cell not as expected, not bad input
    (folder,) = (tmp_path / "r").iterdir()
    lines = (folder / "results.jsonl").read_text().splitlines()
    records = {json.loads(line)["pip"]["version"]: json.loads(line) for line in lines}
    assert records["19.3.1"]["verdict"] == "unsupported"
    assert records["19.0"]["verdict"] == "error"
    log = (folder / records["19.0"]["driver_log"]).read_text()
    assert "collections" in log or "Mapping" in log or "flit_core" in " ".join(records["19.0"]["reasons"]), log[-2000:]
