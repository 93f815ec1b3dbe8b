"""The catalogue replayed for real: docker cells, real pip releases and frontends, asserting the
verdicts and the probe facts that tell the frontends and the pip releases apart.

One run of every catalogue scenario at (Python 3.11, pip 26.3) with every frontend (pip in its default
and venv-isolation modes, pypa/build 1.6.1, uv 0.13.9), and one at Python 3.8 with older pips where the
verdicts change between releases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_harness.evidence import RunFacts
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder

from .test_catalogue import REQUIRED

pytestmark = [pytest.mark.engine, pytest.mark.docker]

# The catalogue beyond the founding scenarios (those have their own end-to-end tests).
CATALOGUE = sorted(REQUIRED - {"metapath", "vcs-target"})
# The frontends of the golden run, as its cell ids write them.
VENV, BUILD, UV = "pip+venv-isolation", "build==1.6.1", "uv==0.13.9"


def replay(golden_runs: dict[str, Path], group: str, names: list[str]) -> dict[str, CellRecord]:
    """The applicable cells of these scenarios in one of the golden runs (tests/golden_records.py):
    the same docker cells, run once a session through the command line."""
    records = RunFolder(golden_runs[group]).records()
    return {r.cell: r for r in records if r.scenario in names and r.not_applicable is None}


@pytest.fixture(scope="module")
def newest(golden_runs: dict[str, Path]) -> dict[str, CellRecord]:
    # Python 3.11, pip 26.3, every frontend (pip in two modes).
    return replay(golden_runs, "docker-newest", CATALOGUE)


def cell(
    records: dict[str, CellRecord], scenario: str, frontend: str, *, python: str = "3.11", pip: str = "26.3"
) -> CellRecord:
    return records[f"{scenario}/py{python}/pip{pip}/{frontend}"]


def facts(record: CellRecord, name: str = "experiment") -> RunFacts:
    run = record.run(name)
    assert run is not None, f"{record.cell}: no {name} run"
    return run.facts


def text(value: str | None) -> str:
    """A fact that must be there (a missing error or backend file fails the assertion on it)."""
    assert value is not None
    return value


def test_every_catalogue_cell_matches_its_measured_expectation(newest: dict[str, CellRecord]) -> None:
    # Four each, but dev-backend-wheels skips pypa/build (it has no --find-links).
    assert len(newest) == 4 * len(CATALOGUE) - 1
    assert f"dev-backend-wheels/py3.11/pip26.3/{BUILD}" not in newest
    assert [(c, r.verdict, r.expected) for c, r in newest.items() if not r.match] == []


def test_only_pips_default_isolation_runs_the_host_pth(newest: dict[str, CellRecord]) -> None:
    pip = cell(newest, "pth-exec", "pip")
    assert pip.verdict == "leaked"
    assert facts(pip).host_code_ran, "the host .pth with code ran in the hook processes"
    for frontend in (VENV, BUILD, UV):
        other = cell(newest, "pth-exec", frontend)
        assert other.verdict == "held"
        assert not facts(other).host_code_ran


def test_host_setuptools_builds_the_project_under_pip(newest: dict[str, CellRecord]) -> None:
    pip = facts(cell(newest, "pth-setuptools", "pip"))
    assert "setuptools.command.bdist_wheel" in (pip.error or "")
    assert any("loaded from the host environment" in i for i in pip.influence)
    assert cell(newest, "pth-setuptools", BUILD).verdict == "held"


def test_distutils_hack_finder_breaks_only_pips_build(newest: dict[str, CellRecord]) -> None:
    pip = cell(newest, "distutils-hack", "pip")
    assert pip.verdict == "broke"
    assert "No module named 'setuptools'" in text(facts(pip).error)
    assert any("_distutils_hack.DistutilsMetaFinder" in f for f in facts(pip).foreign_finders)
    assert cell(newest, "distutils-hack", UV).verdict == "held"


def test_pip_config_reaches_every_frontend_that_installs_with_pip(newest: dict[str, CellRecord]) -> None:
    for frontend in ("pip", VENV, BUILD):
        record = cell(newest, "pipconf-no-deps", frontend)
        assert record.verdict == "broke", frontend
        assert "No module named" in text(facts(record).error)
    assert cell(newest, "pipconf-no-deps", UV).verdict == "held"  # uv does not read pip.conf


def test_host_console_script_breaks_under_pips_pythonpath(newest: dict[str, CellRecord]) -> None:
    pip = cell(newest, "path-scripts", "pip")
    assert pip.verdict == "broke"
    assert "cmake" in text(facts(pip).error)
    assert cell(newest, "path-scripts", VENV).verdict == "held"  # pip #14070's venv fixes it


def test_base_site_packages_reach_pips_build(newest: dict[str, CellRecord]) -> None:
    pip = cell(newest, "system-site-packages", "pip")
    assert pip.verdict == "leaked"
    assert any("DistutilsMetaFinder" in f for f in facts(pip).foreign_finders)


def test_the_copy_that_built_is_the_intended_one(newest: dict[str, CellRecord]) -> None:
    linked = facts(cell(newest, "dev-backend", "pip"))
    assert text(linked.backend_file).endswith(".local-packages/devback/__init__.py")
    assert linked.backend_in_backend_path is True
    wheels = facts(cell(newest, "dev-backend-wheels", "pip"))
    assert "/release/" not in text(wheels.backend_file)
    assert text(wheels.backend_file).endswith("devback/__init__.py")
    selfhosted = facts(cell(newest, "self-hosting-backend", "pip"))
    assert selfhosted.backend_in_backend_path is True
    # The host .pth of folders was processed in the build, but it runs no code: not influence.
    assert selfhosted.host_pth_processed
    assert not selfhosted.host_code_ran


@pytest.fixture(scope="module")
def older(golden_runs: dict[str, Path]) -> dict[str, CellRecord]:
    # Python 3.8, pips 19.3.1, 21.3.1 and 23.0.1, pip's frontend.
    return replay(golden_runs, "docker-older", ["user-site", "self-hosting-backend", "system-site-packages"])


def test_older_pips_differ(older: dict[str, CellRecord]) -> None:
    assert [(c, r.verdict, r.expected) for c, r in older.items() if not r.match] == []
    # pip 19 predates backend-path: a self-hosting backend cannot even build in the control.
    unsupported = cell(older, "self-hosting-backend", "pip", python="3.8", pip="19.3.1")
    assert unsupported.verdict == "unsupported"
    assert "No module named 'selfback'" in text(facts(unsupported, "control").error)
    assert cell(older, "self-hosting-backend", "pip", python="3.8", pip="23.0.1").verdict == "held"
    # pip 21.3 still put the base interpreter's site-packages before the build environment: the base's
    # setuptools 57.5.0 (what python:3.8-slim carries) is the backend, and, older than PEP 621 support,
    # builds the project as UNKNOWN.
    user_site = cell(older, "user-site", "pip", python="3.8", pip="21.3.1")
    assert user_site.verdict == "broke"
    assert not text(facts(user_site).backend_file).startswith("/cell/")
    assert "No matching distribution found for demo" in text(facts(user_site).error)
    assert cell(older, "user-site", "pip", python="3.8", pip="23.0.1").verdict == "held"
    # ... where the base's older setuptools was the backend; later pips keep only its distutils finder.
    base_backend = facts(cell(older, "system-site-packages", "pip", python="3.8", pip="21.3.1"))
    assert any("loaded from the host environment" in i for i in base_backend.influence)
    finder_only = facts(cell(older, "system-site-packages", "pip", python="3.8", pip="23.0.1"))
    assert not any("loaded from the host environment" in i for i in finder_only.influence)
    assert finder_only.foreign_finders


def test_pythonpath_reaches_uvs_backend_but_not_pips_or_builds(newest: dict[str, CellRecord]) -> None:
    uv = cell(newest, "build-pythonpath", UV)
    assert uv.verdict == "leaked"
    assert any("host entry on sys.path" in i for i in facts(uv).influence)
    assert cell(newest, "build-pythonpath", BUILD).verdict == "held"  # build 1.4.4+ clears it for pip too
    assert cell(newest, "build-pythonpath", VENV).verdict == "held"
    # pip's default mode leaks, but through the host setuptools' .pth finder, not PYTHONPATH.
    pip = cell(newest, "build-pythonpath", "pip")
    assert pip.verdict == "leaked"
    assert not any("host entry on sys.path" in i for i in facts(pip).influence)
    assert any("DistutilsMetaFinder" in f for f in facts(pip).foreign_finders)
