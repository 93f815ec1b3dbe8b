"""Real editable installs in the host, for real: setuptools 75.8.0 installed in editable mode by itself
(its finder appended to sys.meta_path, as released; or moved first, as setuptools PR #3829 proposed),
then pip builds setuptools from a git URL through backend-path (pip #11812). Real pips in docker cells,
no network; the verdicts differ between pip releases and modes, so these fail if the fact is not seen
or is seen where it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder

from .conftest import run_cells

pytestmark = pytest.mark.engine

FINDER = (
    "__editable___setuptools_75_8_0_finder._EditableFinder "
    "(/cell/venv/lib/python3.11/site-packages/__editable___setuptools_75_8_0_finder.py)"
)
EDITABLE_BUILD_META = "/cell/editable/0-editable/setuptools/build_meta.py"


def _records(folder: Path) -> dict[str, CellRecord]:
    return {f"{r.pip.version} {r.mode}": r for r in RunFolder(folder).records()}


def test_setuptools_finder_first_broke_the_backend_path_build_until_pip_25(tmp_path: Path) -> None:
    records = _records(run_cells(tmp_path, "setuptools-editable-first", "3.11", "24.0", "25.0"))
    broke, leaked = records["24.0 default"], records["25.0 default"]
    assert (broke.verdict, leaked.verdict) == ("broke", "leaked")
    assert broke.experiment is not None
    assert leaked.experiment is not None
    assert broke.control is not None
    # 24.0: the host's finder answered first, pyproject-hooks refused the backend (BackendInvalid).
    assert broke.experiment.facts.backend_file == EDITABLE_BUILD_META
    assert broke.experiment.facts.backend_in_backend_path is False
    assert FINDER in broke.experiment.facts.foreign_finders
    # The control (no editable install) loaded it from the clone, through backend-path.
    assert broke.control.facts.backend_in_backend_path is True
    assert broke.control.facts.foreign_finders == ()
    # 25.0 (pyproject-hooks 1.2) builds, but with the submodule from the host's editable copy.
    assert leaked.experiment.facts.exit_code == 0
    assert leaked.experiment.facts.backend_file == EDITABLE_BUILD_META
    assert FINDER in leaked.experiment.facts.foreign_finders
    assert "0:editable" in " ".join(leaked.experiment.facts.host_code_ran)


def test_setuptools_finder_as_released_leaks_into_pips_default_mode_only(tmp_path: Path) -> None:
    folder = run_cells(tmp_path, "setuptools-editable", "3.11", "26.3", modes=("default", "venv-isolation"))
    records = _records(folder)
    default, venv = records["26.3 default"], records["26.3 venv-isolation"]
    assert (default.verdict, venv.verdict) == ("leaked", "held")
    assert default.experiment is not None
    assert venv.experiment is not None
    # Appended after the path finders: setuptools comes from backend-path, but the finder is there.
    assert default.experiment.facts.backend_in_backend_path is True
    assert FINDER in default.experiment.facts.foreign_finders
    assert venv.experiment.facts.foreign_finders == ()
    assert venv.experiment.facts.host_code_ran == ()
    # The record names the sdist it built and the pip that made the editable install, with their sha256.
    files = {a.file for a in default.artifacts}
    assert "setuptools-75.8.0.tar.gz" in files
    assert "pip-26.3-py3-none-any.whl" in files


@pytest.mark.parametrize(
    ("scenario", "finder"),
    [
        (
            "scikit-build-editable",
            "_editable_skbc_skdemo.ScikitBuildRedirectingFinder "
            "(/cell/venv/lib/python3.11/site-packages/_editable_skbc_skdemo.py)",
        ),
        (
            "meson-python-editable",
            "_mesdemo_editable_loader.MesonpyMetaFinder "
            "(/cell/venv/lib/python3.11/site-packages/_mesdemo_editable_loader.py)",
        ),
    ],
)
def test_compiled_backends_editable_finders_reach_pips_default_mode(tmp_path: Path, scenario: str, finder: str) -> None:
    """scikit-build-core's redirecting finder and meson-python's rebuilding finder, planted by real
    editable installs of projects built with them, are in the hooks of an unrelated build."""
    default = _records(run_cells(tmp_path, scenario, "3.11", "26.3"))["26.3 default"]
    assert default.verdict == "leaked"
    assert default.experiment is not None
    assert default.experiment.facts.foreign_finders == (finder,)
    assert default.control is not None
    assert default.control.facts.foreign_finders == ()


def test_meson_pythons_own_editable_install_is_pip_11812_unpatched(tmp_path: Path) -> None:
    """meson-python installed in editable mode by itself (its documented way): its loader puts its
    finder first, so a VCS build of meson-python loads `mesonpy` from the host's checkout and pip 24.0
    refuses it (BackendInvalid); pip 25.0 loads it from backend-path, with the host's finder still there."""
    records = _records(run_cells(tmp_path, "meson-python-editable-self", "3.11", "24.0", "25.0"))
    broke, leaked = records["24.0 default"], records["25.0 default"]
    assert (broke.verdict, leaked.verdict) == ("broke", "leaked")
    assert broke.experiment is not None
    assert leaked.experiment is not None
    assert broke.experiment.facts.backend_file == "/cell/editable/0-editable/mesonpy/__init__.py"
    assert broke.experiment.facts.backend_in_backend_path is False
    assert leaked.experiment.facts.backend_in_backend_path is True
    finder = (
        "_meson_python_editable_loader.MesonpyMetaFinder "
        "(/cell/venv/lib/python3.11/site-packages/_meson_python_editable_loader.py)"
    )
    assert finder in leaked.experiment.facts.foreign_finders
