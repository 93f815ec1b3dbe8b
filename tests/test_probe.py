"""The probe run for real (in a subprocess of this Python), for the facts that need a real import system:
what a frontend folder on sys.path shadowed (pip #8887), and a legacy setup.py that starts the probe
itself (pip #12270)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.errors import ConfigError
from isolation_harness.evidence import analyze_run
from isolation_harness.probe import PROBE_MODULE
from isolation_harness.pyproject import (
    LEGACY_BACKEND,
    LEGACY_PROBE_LINE,
    LEGACY_REQUIRES,
    build_requirements,
    declared_backend,
    with_probe,
)
from isolation_harness.scenario import load_scenario

from .conftest import SCENARIOS


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _run_probed(script: Path, probe_dir: Path, pythonpath: list[Path]) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ISOLATION_PROBE"))}
    env.update(ISOLATION_PROBE_DIR=str(probe_dir), PYTHONPATH=os.pathsep.join(map(str, pythonpath)))
    # -S: nothing of this venv's site-packages (which may hold a colorlog) joins the picture.
    subprocess.run([sys.executable, "-S", str(script)], env=env, check=True, cwd=script.parent)
    return [json.loads(p.read_text()) for p in sorted(probe_dir.glob("probe-*.json"))]


def test_the_probe_names_what_a_frontend_folder_on_sys_path_shadowed(tmp_path: Path) -> None:
    """The hook script's folder is sys.path[0] (pep517 < 0.10 in pip 19-21.0): its colorlog.py wins over
    the build environment's colorlog; its compat.py has no other copy."""
    site = tmp_path / "venv/site-packages"
    vendored = site / "pip/_vendor/pep517"
    build_env = tmp_path / "build-env"
    _write(vendored / "colorlog.py", "")
    _write(vendored / "compat.py", "")
    _write(build_env / "colorlog/__init__.py", "")
    _write(build_env / "_ih_probe.py", PROBE_MODULE.read_text())
    hook = _write(vendored / "_in_process.py", "import _ih_probe; _ih_probe.install()\nimport compat, colorlog\n")
    (report,) = _run_probed(hook, tmp_path / "probe", [build_env])
    assert report["modules"]["colorlog"] == str(vendored / "colorlog.py")
    assert report["other_copies"]["colorlog"] == [str(build_env / "colorlog/__init__.py")]
    assert "compat" not in report["other_copies"]
    roots = {"host": [str(site)], "frontend": [str(site / "pip")]}
    facts = analyze_run({"exit_code": 0, "reports": [report], "log": "x"}, roots, tmp_path)
    assert facts.shadowed_by_frontend == (
        f"colorlog ({vendored / 'colorlog.py'}, hiding {build_env / 'colorlog/__init__.py'})",
    )


def test_a_legacy_setup_py_reports_the_setuptools_it_ran_with(tmp_path: Path) -> None:
    """pip before 25.3 may run a setup.py itself, outside any hook: the probe started by setup.py's
    first line reports it, with the setuptools it imported, which came from the host here."""
    host = tmp_path / "venv/site-packages"
    _write(host / "setuptools/__init__.py", "def setup(**kw): pass\n")
    project = tmp_path / "legacy"
    _write(project / "_ih_probe.py", PROBE_MODULE.read_text())
    setup_py = _write(project / "setup.py", LEGACY_PROBE_LINE + "from setuptools import setup\nsetup(name='legacy')\n")
    (report,) = _run_probed(setup_py, tmp_path / "probe", [host])
    assert report["backend"]["legacy"] is True
    assert report["backend"]["file"] == str(host / "setuptools/__init__.py")
    assert str(project) not in report["sys_path"][1:], "the probe line must leave sys.path as it was"
    facts = analyze_run({"exit_code": 0, "reports": [report], "log": "x"}, {"host": [str(host)]}, tmp_path)
    assert facts.hook_processes == 1
    assert facts.influence == (
        "backend 'setup.py run by the frontend itself (no PEP 517 hook)' was loaded from the host "
        f"environment: {host / 'setuptools/__init__.py'}",
        f"host entry on sys.path: {host}",
    )


def test_a_legacy_project_takes_the_probe_beside_setup_py() -> None:
    scenario = load_scenario(SCENARIOS / "offline-legacy-sdist.yaml")
    assert scenario.project.legacy
    files = with_probe(scenario)
    assert "pyproject.toml" not in files
    assert files["setup.py"].startswith(LEGACY_PROBE_LINE)
    assert files["_ih_probe.py"] == PROBE_MODULE.read_text()
    assert build_requirements(scenario) == list(LEGACY_REQUIRES)
    assert declared_backend(scenario) == (LEGACY_BACKEND, [])


def test_a_project_needs_pyproject_toml_or_setup_py(tmp_path: Path) -> None:
    text = (SCENARIOS / "offline-legacy-sdist.yaml").read_text().replace("    setup.py: |", "    other.py: |")
    path = _write(tmp_path / "offline-legacy-sdist.yaml", text)
    message = r"offline-legacy-sdist.yaml: key 'project': the project needs a pyproject.toml .or, for a legacy"
    with pytest.raises(ConfigError, match=message + r" project, a setup.py\); add a pyproject.toml"):
        load_scenario(path)
