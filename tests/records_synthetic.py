"""Synthetic cell records: realistic ``CellRecord``s, with their logs and scenario copies in a run folder,
made without running a cell.

The reports, compare, merge and repro read nothing but a run folder (records, scenario copies, logs),
so their tests run on these in the unit tier; what only a real cell can show stays in the engine tests.
A record is made as ``cell.py`` makes one: the runs' facts per verdict are the kind a real cell of
that verdict records, and the verdict and its reasons come from ``verdict.decide`` on those facts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness import frontends
from isolation_harness.engines.base import EngineInfo
from isolation_harness.evidence import RunFacts
from isolation_harness.record import CellRecord, PipUsed, Ran, RunRecord, combine_repeats
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.verdict import decide
from isolation_harness.wheelstore import Artifact

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
RUN_ID = "20250301T120000Z-synthetic-0a1b2c"
STARTED = "2025-03-01T12:00:00+00:00"
SAME = "<the verdict>"  # the default expectation: the verdict itself (a match)
FLAKY_REPEATS = ("broke", "held", "broke")
NOTES = (
    "Docker 24.0.7 (API 1.43)",
    "network none, non-root, all capabilities dropped, wheel directory read-only",
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def scenario(name: str) -> Scenario:
    """A scenario of the repository's catalogue."""
    return load_scenario(SCENARIOS / f"{name}.yaml")


def record(
    folder: RunFolder,
    scenario_name: str = "metapath",
    *,
    python: str = "3.11",
    pip: str = "24.3.1",
    frontend: str = "pip",
    verdict: str = "held",
    expected: str | None = SAME,
    duration: float = 12.5,
    pip_source: str | Mapping[str, Any] = "pypi",
    repeats: tuple[str, ...] = FLAKY_REPEATS,
    mode: str = frontends.DEFAULT_MODE,
    release: str | None = None,
    version: str | None = None,
) -> CellRecord:
    """The record of one cell of ``folder``'s run: its logs written, its scenario copy kept.

    ``verdict`` is any verdict, ``flaky`` included (the repeats' verdicts are ``repeats``); ``expected``
    defaults to the verdict. ``release`` pins the frontend (build==1.4.2); ``version`` is the one
    installed (default: the release, pip's own for pip; none where the cell did not run).
    """
    axes = _Axes(scenario(scenario_name), python, pip, frontend, mode, release, version)
    folder.keep_scenarios([axes.scenario])
    verdicts = repeats if verdict == "flaky" else (verdict,)
    source = pip_source if isinstance(pip_source, str) else dict(pip_source)
    runs = [
        dataclasses.replace(
            _one(folder, axes, v, expected=v if expected == SAME else expected, attempt=n),
            pip=PipUsed(pip, source, f"pip-{pip}-py3-none-any.whl", sha256(f"pip-{pip}-py3-none-any.whl")),
            duration=0.0 if v == "not-applicable" else duration,
        )
        for n, v in enumerate(verdicts)
    ]
    return combine_repeats(runs)


@dataclass(frozen=True)
class _Axes:
    scenario: Scenario
    python: str
    pip: str
    frontend: str
    mode: str
    release: str | None
    version: str | None

    @property
    def cell(self) -> str:
        label = frontends.label(self.frontend, self.release, self.mode)
        return f"{self.scenario.name}/py{self.python}/pip{self.pip}/{label}"

    def installed(self, *, applicable: bool) -> str | None:
        if not applicable:
            return None
        return self.version or (self.pip if self.frontend == "pip" else self.release)


def run_folder(path: Path, cells: list[dict[str, Any]], *, run_id: str = RUN_ID) -> tuple[RunFolder, list[CellRecord]]:
    """A run folder at ``path / run_id`` holding one record per entry of ``cells`` (``record``'s
    arguments by name), appended in that order."""
    folder = RunFolder.create(path, run_id)
    records = [record(folder, **cell) for cell in cells]
    for made in records:
        folder.append(made)
    return folder, records


def _one(folder: RunFolder, axes: _Axes, verdict: str, *, expected: str | None, attempt: int) -> CellRecord:
    cell, python, pip = axes.cell, axes.python, axes.pip
    wheel = f"pip-{pip}-py3-none-any.whl"
    artifacts = (
        Artifact(wheel, sha256(wheel)),
        Artifact("isolation_harness_probe-0.1.0-py3-none-any.whl", sha256("probe")),
        Artifact("flit_core-3.12.0-py3-none-any.whl", sha256("flit_core")),
    )
    applicable = verdict != "not-applicable"
    runs, reasons, ran = _runs(folder.cell_dir(cell.replace("/", "__"), attempt), folder, axes, verdict)
    return CellRecord(
        run_id=folder.run_id,
        cell=cell,
        scenario=axes.scenario.name,
        scenario_sha256=hashlib.sha256(axes.scenario.source.read_bytes()).hexdigest(),
        project_sha256=axes.scenario.project.digest,
        python=python,
        python_exact=f"{python}.9" if applicable else None,
        pip=PipUsed(pip, "pypi", wheel, sha256(wheel)),  # the source: see record()
        frontend=axes.frontend,
        mode=axes.mode,
        frontend_release=axes.release,
        frontend_version=axes.installed(applicable=applicable),
        engine=_engine(python, applicable=applicable),
        expected=expected,
        artifacts=artifacts if applicable else (),
        not_applicable=None if applicable else reasons[0],
        verdict=verdict,
        match=verdict == expected,
        reasons=reasons,
        control=runs.get("control"),
        experiment=runs.get("experiment"),
        started=STARTED,
        finished=STARTED,
        duration=0.0,  # see record()
        ran=ran,
        harness_version="0.1.0",
    )


def _engine(python: str, *, applicable: bool) -> EngineInfo:
    if not applicable:  # a cell that did not run names no image
        return EngineInfo("docker", "container", NOTES)
    return EngineInfo(
        "docker",
        "container",
        NOTES,
        image=f"isolation-harness/python:{python}",
        image_id="sha256:" + sha256(python),
        image_recipe="local",
        image_base="isolation-harness/rootfs:bookworm",
        base_packages="pip==24.0 setuptools==79.0.1 wheel==0.45.1",
    )


def _runs(
    out: Path, folder: RunFolder, axes: _Axes, verdict: str
) -> tuple[dict[str, RunRecord], tuple[str, ...], Ran | None]:
    """The runs, reasons and driver output of a cell of ``verdict``, their logs written into ``out``."""
    if verdict == "not-applicable":
        return {}, ("python -m build has no --find-links; the note's second way is for pip install",), None
    out.mkdir(parents=True, exist_ok=True)
    cell, python = axes.cell, axes.python
    pip_version = f"pip {axes.pip} from /cell/venv/lib/python{python}/site-packages/pip (python {python})"
    ran = Ran(pip_version, "git version 2.39.5", folder.relative(out / "driver.log"))
    (out / "driver.log").write_text(f"driver: cell {cell}\n")
    if verdict == "error":  # the driver wrote no result.json: no run was recorded
        return {}, ("the cell driver wrote no result.json",), ran
    facts = {name: _facts(name, python, verdict) for name in ("control", "experiment")}
    decision = decide(facts["control"].summary(), facts["experiment"].summary())
    if decision.verdict.value != verdict:  # pragma: no cover - a mistake in this module
        raise AssertionError(f"facts of {verdict} decide {decision.verdict.value}")
    runs = {}
    for name, run_facts in facts.items():
        (out / name / "probe").mkdir(parents=True, exist_ok=True)
        (out / name / "output.log").write_text(_log(cell, name, run_facts))
        log, probe = folder.relative(out / name / "output.log"), folder.relative(out / name / "probe")
        runs[name] = RunRecord(run_facts, log, probe)
    return runs, decision.reasons, ran


def _facts(name: str, python: str, verdict: str) -> RunFacts:
    site = f"/cell/venv/lib/python{python}/site-packages"
    build = "/cell/tmp/pip-install-X/my-backend_X"
    ok = RunFacts(
        exit_code=0,
        timed_out=False,
        duration=4.25,
        error=None,
        hook_processes=3,
        backend_spec="my_backend",
        backend_file=f"{build}/my_backend.py",
        backend_path=(build,),
        backend_in_backend_path=True,
    )
    finder = f"_editable_impl_my_backend._EditableFinder ({site}/_editable_impl_my_backend.py)"
    if verdict == "unsupported":
        return dataclasses.replace(
            ok, exit_code=2, error="ModuleNotFoundError: No module named 'my_backend'", hook_processes=1
        )
    if name == "control" or verdict == "held":
        return ok
    if verdict == "leaked":
        ran = ("1:editable-finder (pid 51)",)
        influence = (
            f"host import hook on sys.meta_path: {finder}",
            f"host code ran in the build: contamination step {ran[0]}",
        )
        return dataclasses.replace(ok, foreign_finders=(finder,), host_code_ran=ran, influence=influence)
    if verdict == "broke":
        return dataclasses.replace(
            ok,
            exit_code=1,
            error="pyproject_hooks._impl.BackendInvalid: Backend was not loaded from backend-path <'.'> & failed",
            hook_processes=1,
            backend_in_backend_path=False,
            foreign_finders=(finder,),
            influence=(f"host import hook on sys.meta_path: {finder}",),
        )
    if verdict == "timeout":
        return dataclasses.replace(ok, exit_code=None, timed_out=True, duration=240.0, hook_processes=1)
    raise ValueError(f"no synthetic facts for verdict {verdict!r}")


def _log(cell: str, name: str, facts: RunFacts) -> str:
    lines = [
        f"# {cell}: {name} run",
        "Processing /cell/project",
        "  Installing build dependencies: started",
        "  Installing build dependencies: finished with status 'done'",
        "  Getting requirements to build wheel: started",
    ]
    if facts.error:
        lines += ["Traceback (most recent call last):", '  File "<string>", line 1, in <module>', facts.error]
    elif facts.timed_out:
        lines += ["[killed at the run's time limit]"]
    else:
        lines += ["Successfully installed my_backend-0.0.0"]
    return "\n".join(lines) + "\n"
