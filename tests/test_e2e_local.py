"""Real cells on the local engine: real interpreters, real pip releases from PyPI, the real probe.

Every assertion here is on a verdict or a probe fact that differs between pip releases, so each test
fails if pip (or the harness) behaves differently from what was measured.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from isolation_harness import runner
from isolation_harness.engines import CellJob
from isolation_harness.engines.local import LocalEngine
from isolation_harness.matrix import Matrix
from isolation_harness.record import CellRecord, RunRecord
from isolation_harness.runner import RunRequest
from isolation_harness.scenario import load_scenario
from isolation_harness.spec import for_scenario
from isolation_harness.wheelhouse import Wheelhouse, probe_requirement

from .conftest import SCENARIOS

pytestmark = pytest.mark.engine
PY = "3.11"


def run_cells(
    scenario: str, pips: list[str], matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path
) -> dict[str, CellRecord]:
    scen = load_scenario(SCENARIOS / f"{scenario}.yaml")
    engine = LocalEngine()
    request = RunRequest(
        [scen],
        matrix,
        engine,
        wheelhouse,
        tmp_path,
        pythons=[PY],
        pips=pips,
        frontends=["pip"],
        modes=["default"],
        jobs=2,
    )
    result = runner.run(request)
    lines = (result.run_dir / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(pips)
    # What the run returns is what it wrote, line for line.
    written = {r["cell"]: r for r in map(json.loads, lines)}
    assert written == {r.cell: json.loads(json.dumps(r.to_json())) for r in result.records}
    return {r.pip.version: r for r in result.records}


def _run(record: CellRecord, name: str) -> RunRecord:
    run = record.run(name)
    assert run is not None, f"{record.cell}: no {name} run"
    return run


@pytest.fixture(scope="module")
def metapath_records(
    matrix: Matrix, wheelhouse: Wheelhouse, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CellRecord]:
    pips = ["19.3.1", "23.0.1", "24.3.1", "25.0", "26.3"]
    return run_cells("metapath", pips, matrix, wheelhouse, tmp_path_factory.mktemp("m"))


def test_metapath_verdicts_change_across_pip_releases(metapath_records: dict[str, CellRecord]) -> None:
    verdicts = {pip: r.verdict for pip, r in metapath_records.items()}
    assert verdicts == {
        "19.3.1": "unsupported",
        "23.0.1": "broke",
        "24.3.1": "broke",
        "25.0": "leaked",
        "26.3": "leaked",
    }
    assert all(r.match for r in metapath_records.values())


def test_metapath_broke_is_the_host_backend(metapath_records: dict[str, CellRecord]) -> None:
    record = metapath_records["23.0.1"]
    control, experiment = _run(record, "control").facts, _run(record, "experiment").facts
    assert control.exit_code == 0
    assert control.backend_in_backend_path is True
    assert control.influence == ()
    assert (
        experiment.error == "pip._vendor.pyproject_hooks._impl.BackendInvalid: Backend was not loaded from backend-path"
    )
    # The probe saw why: the backend came from the editable copy, through the host's finder.
    assert experiment.backend_in_backend_path is False
    assert "/editable/my_backend/my_backend.py" in (experiment.backend_file or "")
    assert any("_EditableFinder" in f for f in experiment.foreign_finders)


@pytest.mark.parametrize("pip", ["25.0", "26.3"])  # pyproject-hooks 1.2 and 1.3 pass backend-path differently
def test_metapath_leaked_loads_from_backend_path_but_keeps_host_finder(
    metapath_records: dict[str, CellRecord], pip: str
) -> None:
    experiment = _run(metapath_records[pip], "experiment").facts
    assert experiment.exit_code == 0
    assert experiment.backend_in_backend_path is True
    assert any("_EditableFinder" in f for f in experiment.foreign_finders)
    assert experiment.host_code_ran, "the host .pth canary must have fired inside a build hook"


def test_metapath_unsupported_control_cannot_import_backend(metapath_records: dict[str, CellRecord]) -> None:
    record = metapath_records["19.3.1"]
    assert _run(record, "control").facts.error == "ModuleNotFoundError: No module named 'my_backend'"
    assert _run(record, "experiment").facts.exit_code == 0  # only the host's editable copy made it work


def test_records_are_replayable(metapath_records: dict[str, CellRecord]) -> None:
    record = metapath_records["25.0"]
    assert record.format == 1
    assert record.to_json()["format"] == 1
    assert (record.python_exact or "").startswith("3.11.")
    assert record.pip.wheel == "pip-25.0-py3-none-any.whl"
    assert len(record.pip.sha256 or "") == 64
    files = {a.file for a in record.artifacts}
    assert any(f.startswith("flit_core-") for f in files)
    assert any(f.startswith("isolation_harness_probe-") for f in files)
    assert record.engine.name == "local"
    assert record.engine.isolation == "process"


def test_vcs_target_fixed_in_24_3(matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    records = run_cells("vcs-target", ["24.2", "24.3.1"], matrix, wheelhouse, tmp_path)
    broke, held = records["24.2"], records["24.3.1"]
    assert (broke.verdict, held.verdict) == ("broke", "held")
    broke_run, held_run = _run(broke, "experiment").facts, _run(held, "experiment").facts
    assert broke_run.error == "ERROR: Cannot set --home and --prefix together"
    assert broke_run.hook_processes == 0  # it fails in the build-dependency install
    assert held_run.hook_processes >= 1
    assert held_run.influence == ()


def test_probe_does_not_change_exit_codes(wheelhouse: Wheelhouse, matrix: Matrix, tmp_path: Path) -> None:
    """The seed scenario gives the same exit codes with and without the probe in the build."""
    scen = load_scenario(SCENARIOS / "metapath.yaml")
    engine = LocalEngine()
    codes = {}
    for pip in ("23.0.1", "25.0"):
        wheel = wheelhouse.pip_wheel(pip)
        wheelhouse.probe_wheel()
        wheelhouse.requirements(["flit_core >=3.8.0,<4"], PY)
        for with_probe in (True, False):
            spec = for_scenario(scen, wheel)
            if not with_probe:
                files = {**spec.project.files, "pyproject.toml": scen.project.file_map["pyproject.toml"]}
                spec = dataclasses.replace(spec, project=dataclasses.replace(spec.project, files=files))
            assert (probe_requirement() in spec.project.files["pyproject.toml"]) is with_probe
            out = tmp_path / f"{pip}-{with_probe}"
            outcome = engine.run_cell(CellJob(spec, PY, wheelhouse.root, out, 600))
            assert outcome.fault is None
            runs = json.loads((out / "result.json").read_text())["runs"]
            codes[(pip, with_probe)] = (runs["control"]["exit_code"], runs["experiment"]["exit_code"])
            assert bool(runs["control"]["reports"]) is with_probe
    assert codes[("23.0.1", True)] == codes[("23.0.1", False)] == (0, 2)
    assert codes[("25.0", True)] == codes[("25.0", False)] == (0, 0)


def test_contamination_that_does_not_take_effect_is_a_harness_error(
    wheelhouse: Wheelhouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted .pth whose canary never fires in the host would give a false `held`; it is an error."""
    scen = load_scenario(SCENARIOS / "metapath.yaml")
    wheelhouse.probe_wheel()
    wheelhouse.requirements(["flit_core >=3.8.0,<4"], PY)
    spec = for_scenario(scen, wheelhouse.pip_wheel("25.0"))
    # The spec sends the canary module's text (spec.CANARY_MODULE) to the driver: swap in a dead one.
    dead = tmp_path / "dead_canary.py"
    dead.write_text("# a canary module that cannot mark anything\n")
    monkeypatch.setattr("isolation_harness.spec.CANARY_MODULE", dead)
    assert spec.to_json()["canary_source"] == dead.read_text()
    out = tmp_path / "cell"
    outcome = LocalEngine().run_cell(CellJob(spec, PY, wheelhouse.root, out, 600))
    result = json.loads((out / "result.json").read_text())
    assert outcome.fault is None
    assert result["fault"] == "contamination did not take effect in the host environment: ['1:editable-finder']"
    assert "experiment" not in result["runs"]
