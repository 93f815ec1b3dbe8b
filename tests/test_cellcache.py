"""The result cache (issue 19): keys that change with every input of a cell, reuse that judges the
measured output again, rechecks that catch a cached verdict the same inputs no longer give.

A fake engine stands in for docker here (it writes a driver result, and counts the cells it ran);
tests/test_cellcache_e2e.py runs the cache with real cells."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from isolation_harness import cellcache, runner
from isolation_harness.cellcache import CellCache, cell_key, driver_digest
from isolation_harness.engines import CellJob, EngineInfo, JobOutcome
from isolation_harness.inputs import CellInputs
from isolation_harness.matrix import Cell
from isolation_harness.packageindex import PackageIndex
from isolation_harness.runner import RunRequest, recheck_sample
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.spec import for_scenario
from isolation_harness.verdict import Verdict
from isolation_harness.wheelstore import Artifact
from tests.conftest import SCENARIOS

IDENTITY = {"engine": "fake", "python": "3.11.9", "base_id": "sha256:base"}
PIP = Artifact("pip-25.0-py3-none-any.whl", "a" * 64)
PROBE = Artifact("ih_probe-1-py3-none-any.whl", "b" * 64)


def _key(scenario: Scenario, **changes: Any) -> str:
    spec = changes.pop("spec", None) or for_scenario(scenario, Path(PIP.file))
    artifacts = changes.pop("artifacts", (PIP, PROBE))
    identity = changes.pop("identity", IDENTITY)
    return cell_key(spec, artifacts, identity, changes.pop("limit", 300.0), changes.pop("driver", driver_digest()))


@pytest.fixture(scope="module")
def metapath() -> Scenario:
    return load_scenario(SCENARIOS / "metapath.yaml")


def test_the_key_changes_with_every_input(metapath: Scenario) -> None:
    base = _key(metapath)
    assert _key(metapath) == base  # the same inputs, the same key
    changed = {
        "pip's sha256": _key(metapath, artifacts=(Artifact(PIP.file, "c" * 64), PROBE)),
        "a build requirement more": _key(metapath, artifacts=(PIP, PROBE, Artifact("x-1-py3-none-any.whl", "d" * 64))),
        "the exact Python": _key(metapath, identity={**IDENTITY, "python": "3.11.10"}),
        "the base image": _key(metapath, identity={**IDENTITY, "base_id": "sha256:other"}),
        "the time limit": _key(metapath, limit=301.0),
        "the driver": _key(metapath, driver="0" * 64),
        "the mode": _key(metapath, spec=for_scenario(metapath, Path(PIP.file), mode="venv-isolation")),
        "the frontend": _key(metapath, spec=for_scenario(metapath, Path(PIP.file), frontend="build")),
        "the contamination": _key(metapath, spec=dataclasses.replace(for_scenario(metapath, Path(PIP.file)), steps=())),
    }
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed), changed


def test_an_index_keys_on_what_the_scenario_asked_not_on_each_cells_secrets(metapath: Scenario) -> None:
    """Each cell makes its own CA and password: keyed on them, an index scenario would never be reused."""
    with_index = dataclasses.replace(metapath, index=PackageIndex(tls=True, auth=True))
    assert _key(with_index) == _key(with_index)  # two cells, two CAs, one key
    assert _key(with_index) != _key(dataclasses.replace(metapath, index=PackageIndex(tls=True, auth=False)))


def test_the_driver_digest_follows_the_probe_sources() -> None:
    from isolation_harness.probe import DRIVER_FILES, PROBE_MODULE

    digest = driver_digest()
    assert len(digest) == 64
    assert all(path.parent == DRIVER_FILES[0].parent for path in (*DRIVER_FILES, PROBE_MODULE))


def test_recheck_sample_is_a_share_at_least_one_and_moves_with_the_run() -> None:
    cells = [f"s/py3.11/pip{n}/pip" for n in range(40)]
    assert recheck_sample(cells, 0, "r1") == set()
    assert len(recheck_sample(cells, 5, "r1")) == 2
    assert len(recheck_sample(cells[:3], 5, "r1")) == 1
    assert recheck_sample(cells, 100, "r1") == set(cells)
    assert recheck_sample(cells, 5, "r1") == recheck_sample(cells, 5, "r1")
    assert any(recheck_sample(cells, 5, "r1") != recheck_sample(cells, 5, f"r{n}") for n in range(2, 6))


# -- the runner with a fake engine -----------------------------------------------------------------


class FakeEngine:
    """Writes what the driver would for a cell: control builds (one hook reports), the experiment
    builds or fails as ``broken`` says; counts the cells it ran."""

    name = "fake"

    def __init__(self, *, broken: set[str] | None = None, identity: dict[str, str] | None = IDENTITY) -> None:
        self.broken = broken or set()
        self.identity = identity
        self.ran: list[str] = []
        self._lock = threading.Lock()
        self.fault: str | None = None

    def info(self) -> EngineInfo:
        return EngineInfo(name="fake", isolation="container")

    def check_python(self, python: str) -> str:
        return python + ".9"

    def cache_identity(self, python: str) -> dict[str, str] | None:
        return None if self.identity is None else {**self.identity, "python": python + ".9"}

    def abort(self) -> None:
        pass

    def pipeline(self, jobs: int) -> int:
        return jobs

    def run_cell(self, job: CellJob) -> JobOutcome:
        pip = job.spec.pip_wheel.split("-")[1]
        with self._lock:
            self.ran.append(pip)
        job.out_dir.mkdir(parents=True)
        hook = {"kind": "probe", "argv": ["/x/_in_process.py"]}
        runs: dict[str, Any] = {}
        for name in ("control", "experiment"):
            (job.out_dir / name).mkdir()
            (job.out_dir / name / "output.log").write_text("BackendInvalid\n" if pip in self.broken else "ok\n")
            failed = name == "experiment" and pip in self.broken
            runs[name] = {
                "exit_code": 1 if failed else 0,
                "reports": [hook],
                "log": f"{name}/output.log",
                "duration": 2.0,
            }
        (job.out_dir / "result.json").write_text(json.dumps({"runs": runs, "roots": {}}))
        (job.out_dir / "driver.log").write_text("fake\n")
        return JobOutcome(False, self.fault, self.info())


class FakeResolver:
    def __init__(self, wheelhouse: Any) -> None:
        self.root = Path(str(wheelhouse))

    def for_cell(self, cell: Cell, scenario: Scenario) -> CellInputs:
        pip = Artifact(f"pip-{cell.pip}-py3-none-any.whl", cell.pip.replace(".", "").ljust(64, "0"))
        return CellInputs(self.root, Path(pip.file), pip, "pypi", (pip, PROBE), ())


@pytest.fixture
def fake_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "InputResolver", FakeResolver)


def _run(
    engine: FakeEngine, metapath: Scenario, tmp_path: Path, expected: Verdict | None = None, **options: Any
) -> runner.RunResult:
    cells = tuple(
        (Cell("metapath", "3.11", pip, "pip", expected), metapath) for pip in ("23.0", "24.0", "25.0", "26.0")
    )
    request = RunRequest(
        [metapath],
        None,
        engine,
        tmp_path / "house",  # type: ignore[arg-type]
        tmp_path / "results",
        cells=cells,
        cache=options.pop("cache", CellCache(tmp_path / "cache")),
        jobs=2,
        **options,
    )
    return runner.run(request)


def _verdicts(result: runner.RunResult) -> dict[str, str]:
    return {r.pip.version: r.verdict for r in result.records}


@pytest.mark.usefixtures("fake_inputs")
def test_a_second_run_reuses_every_cell_and_says_from_which_run(metapath: Scenario, tmp_path: Path) -> None:
    engine = FakeEngine(broken={"23.0", "24.0"})
    first = _run(engine, metapath, tmp_path)
    assert _verdicts(first) == {"23.0": "broke", "24.0": "broke", "25.0": "held", "26.0": "held"}
    assert sorted(engine.ran) == ["23.0", "24.0", "25.0", "26.0"]
    assert all(r.cache_key and r.cached_from is None for r in first.records)

    engine.ran.clear()
    second = _run(engine, metapath, tmp_path)
    assert engine.ran == []  # nothing ran
    assert _verdicts(second) == _verdicts(first)
    assert {r.cached_from for r in second.records} == {first.folder.run_id}
    for record in second.records:  # the evidence is in the new run folder, judged again
        assert record.control is not None
        assert (second.folder.path / record.control.log).is_file()
        assert record.experiment is not None
        assert record.experiment.facts.duration == 2.0
    # Written and read back whole.
    again = {r.cell: r for r in second.folder.records()}
    assert {r.cached_from for r in again.values()} == {first.folder.run_id}


@pytest.mark.usefixtures("fake_inputs")
def test_fresh_runs_everything_and_no_cache_keeps_nothing(metapath: Scenario, tmp_path: Path) -> None:
    engine = FakeEngine()
    _run(engine, metapath, tmp_path)
    engine.ran.clear()
    fresh = _run(engine, metapath, tmp_path, fresh=True)
    assert len(engine.ran) == 4
    assert not any(r.cached_from for r in fresh.records)
    engine.ran.clear()
    none = _run(engine, metapath, tmp_path / "other", cache=None)
    assert len(engine.ran) == 4
    assert not any(r.cache_key for r in none.records)


@pytest.mark.usefixtures("fake_inputs")
def test_a_recheck_that_disagrees_is_flaky_and_drops_the_entry(metapath: Scenario, tmp_path: Path) -> None:
    engine = FakeEngine()
    first = _run(engine, metapath, tmp_path)
    assert set(_verdicts(first).values()) == {"held"}
    engine.ran.clear()
    engine.broken = {"23.0", "24.0", "25.0", "26.0"}  # what the cache says no longer holds
    checked = _run(engine, metapath, tmp_path, recheck=50)
    rechecked = [r for r in checked.records if r.rechecked]
    assert len(engine.ran) == 2
    assert len(rechecked) == 2
    for record in rechecked:
        assert record.verdict == "flaky"
        assert not record.match
        assert record.rechecked == {"run_id": first.folder.run_id, "verdict": "held"}
        assert "rechecked: run" in record.reasons[0]
    reused = [r for r in checked.records if r.cached_from]
    assert len(reused) == 2
    assert {r.verdict for r in reused} == {"held"}
    engine.ran.clear()
    _run(engine, metapath, tmp_path)  # the disagreeing cells are measured again, the others reused
    assert sorted(engine.ran) == sorted(r.pip.version for r in rechecked)


@pytest.mark.usefixtures("fake_inputs")
def test_faults_repeats_and_engines_without_identity_are_never_cached(metapath: Scenario, tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.fault = "the cell driver exited 1 (see driver.log)"
    faulty = _run(engine, metapath, tmp_path)
    assert {r.verdict for r in faulty.records} == {"error"}
    assert list(CellCache(tmp_path / "cache").entries()) == []
    engine.fault = None
    _run(engine, metapath, tmp_path, repeat=2)
    assert list(CellCache(tmp_path / "cache").entries()) == []  # repeats ask for new measurements
    _run(FakeEngine(identity=None), metapath, tmp_path)
    assert list(CellCache(tmp_path / "cache").entries()) == []
    _run(engine, metapath, tmp_path)
    assert len(list(CellCache(tmp_path / "cache").entries())) == 4


@pytest.mark.usefixtures("fake_inputs")
def test_cached_cells_are_judged_by_todays_expectations(metapath: Scenario, tmp_path: Path) -> None:
    """The cache keeps what ran, not a verdict: a cell reused under changed expectations is matched anew."""
    engine = FakeEngine(broken={"24.0"})
    before = next(r for r in _run(engine, metapath, tmp_path).records if r.pip.version == "24.0")
    assert (before.verdict, before.match) == ("broke", False)
    after = next(r for r in _run(engine, metapath, tmp_path, Verdict.BROKE).records if r.pip.version == "24.0")
    assert (after.verdict, after.match, after.expected) == ("broke", True, "broke")
    assert after.cached_from == before.run_id


def test_entries_written_whole_and_read_back(tmp_path: Path) -> None:
    out = tmp_path / "cell"
    (out / "control").mkdir(parents=True)
    (out / "result.json").write_text("{}")
    cache = CellCache(tmp_path / "cache")
    info = EngineInfo(name="docker", isolation="container", notes=("n",))
    entry = cellcache.Entry(
        "ab" * 32, "run-1", "s/py3.11/pip25.0/pip", False, None, info, "3.11.9", "t0", "t1", 7.5, "held"
    )
    cache.put(entry, out)
    cache.put(dataclasses.replace(entry, run_id="run-2", finished="t2", duration=8.0), out)
    (found,) = list(cache.entries())
    assert (found.run_id, found.info, (found.out / "result.json").read_text()) == ("run-2", info, "{}")
    assert cache.durations() == {"s/py3.11/pip25.0/pip": 8.0}
    assert not list((tmp_path / "cache").rglob(".*"))  # no staging folder left
    assert cache.get("cd" * 32) is None


@pytest.mark.usefixtures("fake_inputs")
def test_a_finished_run_fills_another_cache(metapath: Scenario, tmp_path: Path) -> None:
    """The scheduled workflow's merge job keeps the merged run's cells for next week's shards."""
    engine = FakeEngine(broken={"24.0"})
    first = _run(engine, metapath, tmp_path)
    other = CellCache(tmp_path / "other")
    assert cellcache.import_run(other, first.folder) == (4, 0)
    assert {e.key for e in other.entries()} == {r.cache_key for r in first.records}
    engine.ran.clear()
    again = _run(engine, metapath, tmp_path / "next-week", cache=other)
    assert engine.ran == []
    assert {r.cached_from for r in again.records} == {first.folder.run_id}
    assert _verdicts(again) == _verdicts(first)


@pytest.mark.usefixtures("fake_inputs")
def test_prune_removes_what_no_run_used_and_keeps_what_was_reused(
    metapath: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The weekly cache only grows otherwise: entries no run measured, reused or imported for the
    given days go; a reuse (or an import) marks an entry used."""
    import os
    import time

    from isolation_harness.cli import main

    engine = FakeEngine(broken={"24.0"})
    first = _run(engine, metapath, tmp_path)
    cache = CellCache(tmp_path / "cache")
    keys = {r.pip.version: r.cache_key or "" for r in first.records}
    weeks_ago = time.time() - 40 * 86400
    for key in keys.values():  # measured 40 days ago
        os.utime(tmp_path / "cache" / key[:2] / key / cellcache.ENTRY, (weeks_ago, weeks_ago))
    (tmp_path / "cache" / "ab" / ".ab-staging").mkdir(parents=True)  # left by a killed run, just now
    # This week's run reuses two of them (a narrower matrix): only those are used.
    cells = tuple((Cell("metapath", "3.11", pip, "pip", None), metapath) for pip in ("24.0", "25.0"))
    request = RunRequest([metapath], None, engine, tmp_path / "house", tmp_path / "r2", cells=cells, cache=cache)  # type: ignore[arg-type]
    runner.run(request)
    assert main(["cache", "prune", "--unused-days", "35", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "2 entries unused for 35 days removed, 2 kept" in capsys.readouterr().out
    assert {e.key for e in cache.entries()} == {keys["24.0"], keys["25.0"]}
    assert (tmp_path / "cache" / "ab" / ".ab-staging").is_dir()
    # An import marks the entries of the merged run used, the ones it already had too.
    for key in (keys["24.0"], keys["25.0"]):
        os.utime(tmp_path / "cache" / key[:2] / key / cellcache.ENTRY, (weeks_ago, weeks_ago))
    assert cellcache.import_run(cache, first.folder) == (4, 0)
    assert cache.prune(35) == (0, 4)


@pytest.mark.parametrize(
    "args",
    [["prune"], ["show", "--unused-days", "3"], ["prune", "--unused-days", "-1"], ["prune", "x", "--unused-days", "3"]],
)
def test_bad_prune_options_are_one_line_exit_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from isolation_harness.cli import main

    assert main(["cache", *args, "--cache-dir", str(tmp_path / "c")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "prune" in line or "--unused-days" in line
