"""The probe's newer facts, for real: real pips in docker cells (no network). The verdicts differ between
pip releases, so these fail if the fact is not seen or seen where it is not: pip #8887 (pip 19-21.0 ran
the hooks from pip/_vendor/pep517, whose colorlog.py hid the build requirement colorlog) and pip #12270
(a setup.py-only project: pip 22-23.0 ran setup.py itself with the host's setuptools; from 23.1 it builds
in isolation, and offline that breaks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder

from .conftest import run_cells

pytestmark = pytest.mark.engine


def _run(tmp_path: Path, scenario: str, python: str, *pips: str) -> dict[str, CellRecord]:
    return {r.pip.version: r for r in RunFolder(run_cells(tmp_path, scenario, python, *pips)).records()}


def test_pep517s_folder_hid_a_build_requirement_until_pip_21_1(tmp_path: Path) -> None:
    records = _run(tmp_path, "pep517-vendor-shadow", "3.9", "20.0.2", "21.3.1")
    old, new = records["20.0.2"], records["21.3.1"]
    assert (old.verdict, new.verdict) == ("leaked", "held")
    assert old.experiment is not None
    assert old.control is not None
    assert new.experiment is not None
    (shadow,) = old.experiment.facts.shadowed_by_frontend
    assert shadow.startswith("colorlog (/cell/venv/lib/python3.9/site-packages/pip/_vendor/pep517/colorlog.py, hiding ")
    assert "pip-build-env-" in shadow
    assert shadow.endswith("/colorlog/__init__.py)")
    # The control imported nothing of that name; pep517's own `compat` import is not counted.
    assert old.control.facts.shadowed_by_frontend == ()
    assert new.experiment.facts.shadowed_by_frontend == ()


def test_a_legacy_project_was_built_with_the_hosts_setuptools_until_pip_23_1(tmp_path: Path) -> None:
    records = _run(tmp_path, "offline-legacy-sdist", "3.11", "21.3.1", "23.0.1", "24.0")
    assert {pip: r.verdict for pip, r in records.items()} == {
        "21.3.1": "unsupported",
        "23.0.1": "leaked",
        "24.0": "broke",
    }
    leaked = records["23.0.1"]
    assert leaked.control is not None
    assert leaked.experiment is not None
    # The control had no setuptools in the host: pip built it in isolation (the probe beside setup.py saw
    # the fallback backend from the build environment); the experiment's setup.py ran in the host.
    assert leaked.control.facts.backend_spec == "setuptools.build_meta:__legacy__"
    assert "pip-build-env-" in str(leaked.control.facts.backend_file)
    assert leaked.experiment.facts.backend_spec == "setup.py run by the frontend itself (no PEP 517 hook)"
    assert leaked.experiment.facts.backend_file == "/cell/venv/lib/python3.11/site-packages/setuptools/__init__.py"
    # 24.0 took the isolated path offline: no setuptools in the user's folder.
    broke = records["24.0"]
    assert broke.experiment is not None
    assert broke.experiment.facts.error == "ERROR: No matching distribution found for setuptools>=40.8.0"
