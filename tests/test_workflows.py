"""The GitHub workflows, checked offline, and sharding that changes nothing but timings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.cli import main
from isolation_harness.matrix import Matrix
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import load_scenarios
from isolation_harness.shards import GITHUB_MATRIX_LIMIT, shard_matrix

from .conftest import ROOT, SCENARIOS, copy_repo_inputs

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"  # the composite action for maintainers' CI
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is a test dependency (pip install -e .[test])"
    return found


def test_workflows_match_githubs_schema() -> None:
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_matches_githubs_schema() -> None:
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_above_low() -> None:
    proc = subprocess.run(
        [_tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", *map(str, [*WORKFLOWS, ACTION])],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(proc.stdout or "[]")
    serious = [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if f["determinations"]["severity"] not in ("Unknown", "Informational", "Low")
    ]
    assert serious == []


def test_actions_are_pinned_and_permissions_minimal() -> None:
    for use in re.findall(r"uses:\s*(\S+)", ACTION.read_text()):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use), f"action.yml: {use} is not pinned"
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "\npermissions: {}\n" in text, workflow.name
        for use in re.findall(r"uses:\s*(\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", use), (
                f"{workflow.name}: {use} is not pinned"
            )
        assert "persist-credentials: false" in text


def test_full_matrix_fits_githubs_job_limit(matrix: Matrix) -> None:
    scenarios = list(load_scenarios(SCENARIOS).values())
    shards = shard_matrix(scenarios, matrix)["include"]
    # One shard per scenario and Python of its matrix (a scenario's narrowing in matrix.yaml counts:
    # keyring-build-deps has no 3.8 shard).
    per_scenario = [len(matrix.narrowing(s.name).pythons or matrix.pythons) for s in scenarios]
    assert per_scenario.count(len(matrix.pythons)) < len(per_scenario)
    assert len(shards) == sum(per_scenario) <= GITHUB_MATRIX_LIMIT
    assert len({s["name"] for s in shards}) == len(shards)
    # Room to grow: the catalogue could be 42 scenarios on these Pythons before a split is needed.
    assert len(matrix.pythons) * 42 <= GITHUB_MATRIX_LIMIT


_VOLATILE = {"started", "finished", "duration", "run_id", "log", "probe_dir", "driver_log"}


def _normal(value: Any) -> Any:
    """A record without timings, run ids, temporary paths and pids."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list | tuple):  # tuples in a record's to_json, lists in its JSON
        return [_normal(v) for v in value]
    if isinstance(value, str):
        value = re.sub(r"/tmp/ih-cell-[^/]+", "<cell>", value)
        value = re.sub(r"pip-[a-z-]+-[a-z0-9_]{6,}", "pip-tmp", value)
        value = re.sub(r"my-backend_[0-9a-f]{32}", "my-backend", value)
        return re.sub(r"pid \d+", "pid N", value)
    return value


@pytest.mark.engine
def test_two_shards_merged_equal_one_whole_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_repo_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    common = ["run", "--scenario", "metapath", "--engine", "local", "--pip", "24.3.1", "--pip", "25.0"]
    assert main([*common, "--python", "3.8", "--python", "3.11", "--out", "whole"]) == 0
    assert main([*common, "--python", "3.8", "--out", "shard-a"]) == 0
    assert main([*common, "--python", "3.11", "--out", "shard-b"]) == 0
    shards = [next((tmp_path / name).iterdir()) for name in ("shard-a", "shard-b")]
    assert main(["merge", *map(str, shards), "--out", "merged"]) == 0
    whole = {r.cell: _normal(r.to_json()) for r in RunFolder(next((tmp_path / "whole").iterdir())).records()}
    merged = {r.cell: _normal(r.to_json()) for r in RunFolder(tmp_path / "merged").records()}
    assert len(whole) == 4
    assert whole == merged
    assert main(["merge", *map(str, shards), str(shards[0]), "--out", "again"]) == 2  # overlapping shards


def test_the_weekly_recheck_share_is_the_one_the_bench_measures() -> None:
    """The bench's rerun with nothing new rechecks the workflow's share: its figure is the week's."""
    from isolation_harness.cellcache import WEEKLY_RECHECK

    text = (ROOT / ".github" / "workflows" / "regression.yml").read_text()
    assert f"--recheck {WEEKLY_RECHECK:g})" in text
