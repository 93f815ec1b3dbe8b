"""One cell: the driver spec from a scenario, the engine run, and the record of its verdict."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from isolation_harness import __version__, frontends
from isolation_harness.engines import CellJob, Engine, EngineInfo
from isolation_harness.errors import ConfigError
from isolation_harness.evidence import RunFacts, analyze_run
from isolation_harness.matrix import Cell
from isolation_harness.probe import CANARY_MODULE
from isolation_harness.records import RECORD_FORMAT
from isolation_harness.scenario import Scenario
from isolation_harness.verdict import Decision, Verdict, decide
from isolation_harness.wheelhouse import Artifact, Wheelhouse, probe_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself needs 3.10+, where tomli stands in
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

# Time for making the venv, unpacking pip and the contamination, on top of the two runs' limits.
SETUP_ALLOWANCE = 180.0


def parse_toml(text: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(text)
    return data


def build_requirements(scenario: Scenario) -> list[str]:
    """The project's declared build requirements (the probe is added to them for the cell)."""
    data = _pyproject(scenario)
    requires = data.get("build-system", {}).get("requires", [])
    local = _dev_wheel_names(scenario)
    wanted = []
    for req in requires:
        try:
            name = canonicalize_name(Requirement(req).name)
        except InvalidRequirement:
            raise ConfigError(
                f"{scenario.source}: key 'project.files.pyproject.toml': bad build requirement {req!r}"
            ) from None
        if name not in local:  # built in the cell from the project's dev-wheels folders
            wanted.append(req)
    return wanted


def _dev_wheel_names(scenario: Scenario) -> set[str]:
    outside = dict(scenario.project.outside)
    names: set[str] = set()
    for folder in scenario.project.dev_wheels:
        text = outside.get(f"{folder.rstrip('/')}/pyproject.toml")
        if text:
            name = tomllib.loads(text).get("project", {}).get("name")
            if name:
                names.add(canonicalize_name(name))
    return names


def _pyproject(scenario: Scenario) -> dict[str, Any]:
    text = scenario.project.file_map["pyproject.toml"]
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{scenario.source}: key 'project.files.pyproject.toml': not valid TOML ({exc})") from None


def with_probe(scenario: Scenario) -> str:
    """pyproject.toml of the scenario's project with the probe added to ``build-system.requires``."""
    where = f"{scenario.source}: key 'project.files.pyproject.toml'"
    return insert_probe(scenario.project.file_map["pyproject.toml"], where)


def insert_probe(text: str, where: str) -> str:
    """Add the probe to the ``build-system.requires`` array of a pyproject.toml text.

    Only that array changes, textually, so the rest of the file stays byte-for-byte as written; the
    result is parsed again to prove the edit did what it should.
    """
    probe = probe_requirement()
    section = re.search(r"(?ms)^\[build-system\][ \t]*\n(.*?)(?=^\[|\Z)", text)
    match = re.search(r"(?m)^requires[ \t]*=[ \t]*\[", section.group(1)) if section else None
    if section is None or match is None:
        raise ConfigError(
            f"{where}: needs a [build-system] table with a 'requires = [...]' array, so the probe can join "
            "the build requirements"
        )
    at = section.start(1) + match.end()
    edited = f'{text[:at]}"{probe}", {text[at:]}'
    if tomllib.loads(edited)["build-system"]["requires"][0] != probe:
        raise ConfigError(f"{where}: could not add the probe to requires")
    return edited


def driver_spec(
    scenario: Scenario, pip_wheel: Path, *, timeout: int | None = None, frontend: str = "pip"
) -> dict[str, Any]:
    files = scenario.project.file_map
    files["pyproject.toml"] = with_probe(scenario)
    project = scenario.project
    build_system = _pyproject(scenario).get("build-system", {})
    return {
        "project": {
            "name": project.name,
            "offer": project.offer,
            "files": files,
            "outside": dict(project.outside),
            "links": dict(project.links),
            "dev_wheels": list(project.dev_wheels),
        },
        "pip_wheel": pip_wheel.name,
        "steps": [_step_json(step) for step in scenario.contamination],
        "run_timeout": timeout or scenario.timeout,
        "canary_source": CANARY_MODULE.read_text(),
        # The backend as declared, for frontends that do not tell the hook process (uv).
        "backend": {
            "spec": build_system.get("build-backend", ""),
            "path": list(build_system.get("backend-path", [])),
        },
        **frontend_spec(frontend, scenario.action.args, scenario.action.for_frontend(frontend)),
    }


def frontend_spec(name: str, pip_args: Sequence[str], own: Sequence[str] | None = None) -> dict[str, Any]:
    """The driver's view of a frontend: what to start, install, allow in the build and set."""
    frontend = frontends.get(name)
    return {
        "frontend": frontend.name,
        "frontend_module": frontend.module,
        "frontend_requirements": list(frontend.requirements),
        "frontend_roots": list(frontend.roots),
        "frontend_env": dict(frontend.env),
        "action_args": list(frontend.args(pip_args, own)),
    }


def _step_json(step: object) -> dict[str, Any]:
    return dict(dataclasses.asdict(step))  # type: ignore[call-overload]


def run_cell(
    cell: Cell,
    scenario: Scenario,
    *,
    engine: Engine,
    wheelhouse: Wheelhouse,
    artifacts: list[Path],
    run_dir: Path,
    run_id: str,
    python_exact: str,
    timeout: int | None = None,
    attempt: int = 0,
) -> dict[str, Any]:
    """Run one applicable cell on the engine and return its record."""
    started = _now()
    pip_wheel = wheelhouse.pip_wheel(cell.pip)
    out_dir = run_dir / "cells" / (cell.slug if attempt == 0 else f"{cell.slug}__repeat{attempt}")
    if out_dir.exists():  # left by an interrupted run that is being resumed
        shutil.rmtree(out_dir)
    limit = timeout or scenario.timeout
    spec = driver_spec(scenario, pip_wheel, timeout=limit, frontend=cell.frontend)
    spec["wheelhouse_hidden"] = wheelhouse.hidden_from(cell.python)
    job = CellJob(
        spec=spec,
        python=cell.python,
        wheelhouse=wheelhouse.root,
        out_dir=out_dir,
        time_limit=2 * limit + SETUP_ALLOWANCE,
    )
    clock = time.monotonic()
    try:
        outcome = engine.run_cell(job)
    except BaseException:
        # Interrupted: no half-written output stays behind; a resumed run does the cell again.
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    result = _read_result(out_dir)
    fault = outcome.fault or (result or {}).get("fault")
    if outcome.timed_out:
        fault = None
    control = experiment = None
    if result is not None and not outcome.timed_out:
        roots = result.get("roots", {})
        runs = result.get("runs", {})
        control = analyze_run(runs["control"], roots, out_dir) if "control" in runs else None
        experiment = analyze_run(runs["experiment"], roots, out_dir) if "experiment" in runs else None
    if outcome.timed_out:
        decision = Decision(
            Verdict.TIMEOUT, (f"the cell exceeded its overall limit of {job.time_limit:.0f} s and was killed",)
        )
    elif result is None:
        decision = decide(None, None, harness_fault=fault or "the cell driver wrote no result.json")
    else:
        decision = decide(
            control.summary() if control else None, experiment.summary() if experiment else None, harness_fault=fault
        )
    used = [wheelhouse.artifact(pip_wheel)] + [wheelhouse.artifact(p) for p in artifacts]
    record = base_record(
        cell,
        scenario,
        run_id=run_id,
        python_exact=python_exact,
        info=outcome.info,
        pip=wheelhouse.artifact(pip_wheel),
        artifacts=used,
        pip_source=wheelhouse.provenance(cell.pip),
    )
    record.update(
        verdict=decision.verdict.value,
        match=decision.verdict is cell.expected,
        reasons=list(decision.reasons),
        control=_run_record(control, out_dir, run_dir, "control"),
        experiment=_run_record(experiment, out_dir, run_dir, "experiment"),
        pip_version_output=(result or {}).get("pip_version_output"),
        git_version=(result or {}).get("git_version"),
        driver_log=_rel(out_dir / "driver.log", run_dir),
        started=started,
        finished=_now(),
        duration=round(time.monotonic() - clock, 3),
    )
    return record


def not_applicable_record(
    cell: Cell,
    scenario: Scenario,
    *,
    run_id: str,
    info: EngineInfo,
    python_exact: str | None,
    pip: Artifact | None,
    pip_source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    record = base_record(
        cell,
        scenario,
        run_id=run_id,
        python_exact=python_exact,
        info=info,
        pip=pip,
        artifacts=[],
        pip_source=pip_source,
    )
    now = _now()
    record.update(
        verdict=Verdict.NOT_APPLICABLE.value,
        match=cell.expected is Verdict.NOT_APPLICABLE,
        reasons=[cell.not_applicable],
        control=None,
        experiment=None,
        started=now,
        finished=now,
        duration=0.0,
    )
    return record


def base_record(
    cell: Cell,
    scenario: Scenario,
    *,
    run_id: str,
    python_exact: str | None,
    info: EngineInfo,
    pip: Artifact | None,
    artifacts: list[Artifact],
    pip_source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "harness_version": __version__,
        "run_id": run_id,
        "cell": cell.id,
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(scenario.source.read_bytes()).hexdigest(),
        "project_sha256": scenario.project.digest,
        "python": {"axis": cell.python, "exact": python_exact},
        "pip": {
            "version": cell.pip,
            # "pypi" for releases; for candidates: kind, origin, commit and any pyproject-hooks overlay
            "source": pip_source or "pypi",
            "wheel": pip.file if pip else None,
            "sha256": pip.sha256 if pip else None,
        },
        "frontend": cell.frontend,
        "engine": dataclasses.asdict(info),
        "expected": cell.expected.value if cell.expected else None,
        "artifacts": [dataclasses.asdict(a) for a in artifacts],
        "not_applicable": cell.not_applicable,
    }


def _run_record(facts: RunFacts | None, out_dir: Path, run_dir: Path, name: str) -> dict[str, Any] | None:
    if facts is None:
        return None
    data = dataclasses.asdict(facts)
    data["log"] = _rel(out_dir / name / "output.log", run_dir)
    data["probe_dir"] = _rel(out_dir / name / "probe", run_dir)
    return data


def _read_result(out_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out_dir / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
