"""Bad input exits 2 with one line naming the file or option, and nothing already recorded is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.cli import main

from .conftest import ROOT, SCENARIOS, copy_repo_inputs


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


def test_unknown_key_exits_2_with_one_line(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    path = tmp_path / "scenarios/metapath.yaml"
    path.write_text(path.read_text().replace("timeout:", "timout:"))
    proc = cli("run", "--scenario", "metapath", "--engine", "local", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "isolation-harness: error: scenarios/metapath.yaml: key 'timout': unknown key; did you mean 'timeout'?"
    )
    assert "Traceback" not in proc.stderr


def test_unknown_scenario(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    proc = cli("run", "--scenario", "metapth", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "--scenario metapth: no file scenarios/metapth.yaml; known scenarios: build-pythonpath, "
        "cert-build-deps, cert-system-store, dev-backend, " in proc.stderr
    )
    assert ", metapath, " in proc.stderr


def test_broken_matrix(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    (tmp_path / "matrix.yaml").write_text("pythons: [\n")
    proc = cli("run", "--scenario", "metapath", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("isolation-harness: error: matrix.yaml: not valid YAML")


@pytest.mark.engine
def test_pip_that_does_not_exist(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    proc = cli("run", "--scenario", "metapath", "--pip", "99.1", "--python", "3.11", "--engine", "local", cwd=tmp_path)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("isolation-harness: error: --pip 99.1: pip 99.1 could not be downloaded")
    assert not (tmp_path / "results").exists()


def test_python_without_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_repo_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("PATH", "/nonexistent")
    from isolation_harness.engines import local

    local.find_interpreter.cache_clear()
    try:
        code = main(["run", "--scenario", "metapath", "--python", "3.11", "--pip", "24.0", "--engine", "local"])
    finally:
        local.find_interpreter.cache_clear()
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("isolation-harness: error: --python 3.11: no interpreter found")
    assert "pyenv install 3.11" in err


def test_existing_records_survive_bad_input(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    old = tmp_path / "results" / "old-run"
    old.mkdir(parents=True)
    (old / "results.jsonl").write_text('{"kept": true}\n')
    (tmp_path / "scenarios/metapath.yaml").write_text("name: [\n")
    assert cli("run", "--scenario", "metapath", cwd=tmp_path).returncode == 2
    assert (old / "results.jsonl").read_text() == '{"kept": true}\n'


def test_docker_engine_without_daemon_exits_2(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "isolation_harness", "run", "--scenario", "metapath", "--engine", "docker"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"isolation-harness: error: --engine docker: no Docker daemon socket at {tmp_path}/no.sock"
    )
    assert "dockerd" in lines[0]
    assert "--engine local" in lines[0]


def test_auto_engine_without_daemon_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from isolation_harness.engines import select_engine

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    engine = select_engine("auto")
    assert engine.name == "local"
    assert engine.info().isolation == "process"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "run needs --scenario NAME, --all (every scenario) (or --resume RUN_DIR)"),
        (("--all", "--scenario", "metapath"), "run needs --scenario or --all, not both (or --resume RUN_DIR)"),
    ],
)
def test_run_names_its_scenarios(args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *args, "--engine", "local"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"isolation-harness: error: {message}"


def test_run_all_plans_every_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    """--all is the catalogue's whole set (the status page's run), read like naming each one."""
    from isolation_harness.commands import common

    class Planned(Exception):
        pass

    seen: list[list[str]] = []

    def stop(*args: Any) -> Any:
        raise Planned

    original = common.Inputs.scenarios

    def spy(self: Any, names: list[str]) -> Any:
        found = original(self, names)
        seen.append([s.name for s in found])
        return found

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(common, "engine", stop)
    monkeypatch.setattr(common.Inputs, "scenarios", spy)
    with pytest.raises(Planned):
        main(["run", "--all", "--engine", "local"])
    (names,) = seen
    assert sorted(names) == sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
