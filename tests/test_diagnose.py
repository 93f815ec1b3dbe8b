"""diagnose on the #11812 set-up (a failing and a succeeding pip) and on a healthy project."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from isolation_harness.engines.docker import daemon_answers
from isolation_harness.engines.local import find_interpreter
from isolation_harness.probe._driver_steps import _editable_finder
from isolation_harness.scenario import load_scenario
from isolation_harness.wheelhouse import Wheelhouse

from .conftest import ROOT, SCENARIOS, require_engine

pytestmark = pytest.mark.engine
PY = "3.11"


def user_env(tmp_path: Path, wheelhouse: Wheelhouse, pip: str, *, editable: Path | None) -> Path:
    """A user's venv: the pip release, flit_core, and (optionally) the backend installed editable by a finder."""
    base = find_interpreter(PY)
    assert base is not None
    venv = tmp_path / f"venv-{pip}"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = venv / "lib" / f"python{PY}" / "site-packages"
    with zipfile.ZipFile(wheelhouse.pip_wheel(pip)) as wheel:
        wheel.extractall(purelib)
    flit = wheelhouse.requirements(["flit_core >=3.8.0,<4"], PY)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-index", *map(str, flit)], check=True)
    if editable is not None:
        lines = _editable_finder("my_backend", str(editable), str(purelib))
        (purelib / "__editable__.my_backend.pth").write_text("\n".join(lines) + "\n")
    return venv / "bin" / "python"


def project(tmp_path: Path) -> Path:
    """The metapath scenario's project as a git repository on disk."""
    folder = tmp_path / "my_backend"
    for rel, text in load_scenario(SCENARIOS / "metapath.yaml").project.files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@invalid"]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "backend"], check=True)
    return folder


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def diagnose(source: str, env_python: Path, engine: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "isolation_harness",
            "diagnose",
            source,
            "--env-python",
            str(env_python),
            "--engine",
            engine,
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("engine", ["local", "docker"])
@pytest.mark.parametrize(("pip", "verdict"), [("23.0.1", "broke"), ("25.0", "leaked")])
def test_diagnose_names_finder_pth_and_backend(
    tmp_path: Path, wheelhouse: Wheelhouse, engine: str, pip: str, verdict: str
) -> None:
    if engine == "docker":
        require_engine("docker", daemon_answers())
    folder = project(tmp_path)
    python = user_env(tmp_path, wheelhouse, pip, editable=folder)
    proc = diagnose(f"git+file://{folder}", python, engine)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"(backend 'my_backend'): {verdict}" in out
    assert "_editable_impl_my_backend._EditableFinder" in out
    assert (
        "installed by "
        + str(python.parent.parent / "lib" / f"python{PY}" / "site-packages" / "__editable__.my_backend.pth")
        in out
    )
    if verdict == "broke":
        assert f"backend loaded from: {folder}/my_backend.py (in backend-path: False)" in out
        assert "most likely cause: Your environment's import hook loaded the backend from" in out
    else:
        assert "(in backend-path: True)" in out
        assert "most likely cause: Your environment reached into the build" in out
    record = json.loads(diagnose(f"git+file://{folder}", python, engine, "--json").stdout)
    assert record["verdict"] == verdict
    assert record["clean"]["exit_code"] == 0
    assert record["clean"]["influence"] == []


@pytest.mark.parametrize("engine", ["local", "docker"])
def test_diagnose_healthy_project_says_so_in_one_line(tmp_path: Path, wheelhouse: Wheelhouse, engine: str) -> None:
    if engine == "docker":
        require_engine("docker", daemon_answers())
    folder = project(tmp_path)
    python = user_env(tmp_path, wheelhouse, "25.0", editable=None)
    before = _snapshot(python.parent.parent)
    proc = diagnose(str(folder), python, engine)
    assert _snapshot(python.parent.parent) == before  # diagnose never changes the user's environment
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines() == [
        f"clean build: {folder} built the same in your environment and in a clean one, "
        "and its build saw nothing of your environment."
    ]


def test_diagnose_with_pypa_build_sees_its_venv_isolation_hold(tmp_path: Path, wheelhouse: Wheelhouse) -> None:
    """The same environment that breaks or leaks pip's builds: pypa/build's venv keeps the finder out."""
    folder = project(tmp_path)
    python = user_env(tmp_path, wheelhouse, "25.0", editable=folder)
    build = wheelhouse.requirements(["build"], PY)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", *map(str, build)], check=True)
    proc = diagnose(str(folder), python, "local", "--frontend", "build", "--json")
    record = json.loads(proc.stdout)
    assert record["verdict"] == "held", proc.stderr
    assert record["user"]["hook_processes"] >= 1
    assert record["user"]["backend_in_backend_path"] is True
    assert record["user"]["foreign_finders"] == []
    assert proc.returncode == 0


def test_diagnose_copies_binary_files_into_the_clean_build(tmp_path: Path, wheelhouse: Wheelhouse) -> None:
    """A project whose backend reads a binary file must build in the clean cell too (its copy used to
    drop every file that was not text, and the clean build then failed where the user's did not)."""
    folder = project(tmp_path)
    blob = bytes(range(256)) * 4  # not UTF-8
    (folder / "data.bin").write_bytes(blob)
    backend = folder / "my_backend.py"
    check = (
        "import os as _os\n"
        "with open(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), 'data.bin'), 'rb') as _fh:\n"
        "    assert _fh.read() == bytes(range(256)) * 4, 'data.bin differs'\n"
    )
    backend.write_text(check + backend.read_text())
    python = user_env(tmp_path, wheelhouse, "25.0", editable=None)
    proc = diagnose(str(folder), python, "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines() == [
        f"clean build: {folder} built the same in your environment and in a clean one, "
        "and its build saw nothing of your environment."
    ]
