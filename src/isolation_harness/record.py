"""A cell's record, typed: what every reader of a run folder (report, compare, merge, replay, repro,
resume) reads, and the one JSON shape written to ``results.jsonl``.

``to_json`` writes exactly the keys records have always had, so run folders made before this type
existed read back unchanged (``from_json`` fills what older records lack) and tools that read the JSON
themselves see no difference. A record of a newer format than this harness knows is refused with the
fix, never half-read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from isolation_harness import frontends
from isolation_harness.engines.base import EngineInfo
from isolation_harness.errors import InputError
from isolation_harness.evidence import RunFacts
from isolation_harness.wheelstore import Artifact

RECORD_FORMAT = 1


# Facts added to format 1 later, rare, and written only when present: a record without them reads the
# same whether an older harness wrote it or nothing was seen, and old run folders report unchanged.
SPARSE_FACTS = ("shadowed_by_frontend",)


@dataclass(frozen=True)
class RunRecord:
    """One run (control or experiment) of a cell: the facts, and where its log and probe reports are
    (relative to the run folder)."""

    facts: RunFacts
    log: str
    probe_dir: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this harness does not know, kept

    def to_json(self) -> dict[str, Any]:
        data = dict(self.extra)
        facts = dataclasses.asdict(self.facts)
        for name in SPARSE_FACTS:  # written only when there is something to say (see SPARSE_FACTS)
            if not facts[name]:
                del facts[name]
        data.update(facts)
        data.update(log=self.log, probe_dir=self.probe_dir)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(RunFacts)}
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        defaults: dict[str, Any] = {"exit_code": None, "error": None, "timed_out": False, "duration": 0.0}
        facts = RunFacts(**{"hook_processes": 0, **defaults, **values})
        extra = {k: v for k, v in data.items() if k not in known and k not in ("log", "probe_dir")}
        return cls(facts, str(data.get("log", "")), str(data.get("probe_dir", "")), extra)


@dataclass(frozen=True)
class PipUsed:
    version: str  # the axis value: a release, or a candidate's label
    source: str | dict[str, Any]  # "pypi", or a candidate's kind, origin, commit and overlay
    wheel: str | None
    sha256: str | None


@dataclass(frozen=True)
class Ran:
    """What only a cell that ran has (a not-applicable cell has none of it)."""

    pip_version_output: str | None
    git_version: str | None
    driver_log: str


@dataclass(frozen=True)
class CellRecord:
    run_id: str
    cell: str  # scenario/pyX.Y/pipV/frontend
    scenario: str
    scenario_sha256: str
    project_sha256: str | None
    python: str  # the axis value
    python_exact: str | None
    pip: PipUsed
    frontend: str
    engine: EngineInfo
    expected: str | None
    artifacts: tuple[Artifact, ...]
    not_applicable: str | None
    verdict: str
    match: bool
    reasons: tuple[str, ...]
    control: RunRecord | None
    experiment: RunRecord | None
    started: str
    finished: str
    duration: float
    ran: Ran | None = None
    repeats: tuple[str, ...] | None = None  # the verdict of each repeat (--repeat N)
    harness_version: str = ""
    format: int = RECORD_FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this harness does not know, kept
    mode: str = frontends.DEFAULT_MODE  # pip's isolation mode
    frontend_release: str | None = None  # the release the cell asked for (build==1.4.2), if any
    frontend_version: str | None = None  # the frontend's exact version installed (pip's for pip)
    # The result cache (cellcache): the cell's key, the run whose measurement this record reuses, and
    # for a cached cell run again for real (--recheck) the run and verdict it was checked against.
    cache_key: str | None = None
    cached_from: str | None = None
    rechecked: Mapping[str, str] | None = None

    @property
    def pip_version(self) -> str:
        return self.pip.version

    @property
    def label(self) -> str:
        """The frontend as the cell id writes it: pip, pip+venv-isolation, build==1.4.2."""
        return frontends.label(self.frontend, self.frontend_release, self.mode)

    def run(self, name: str) -> RunRecord | None:
        return self.control if name == "control" else self.experiment if name == "experiment" else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            format=self.format,
            harness_version=self.harness_version,
            run_id=self.run_id,
            cell=self.cell,
            scenario=self.scenario,
            scenario_sha256=self.scenario_sha256,
            project_sha256=self.project_sha256,
            python={"axis": self.python, "exact": self.python_exact},
            pip=dataclasses.asdict(self.pip),
            frontend=self.frontend,
            mode=self.mode,
            frontend_release=self.frontend_release,
            frontend_version=self.frontend_version,
            engine=dataclasses.asdict(self.engine),
            expected=self.expected,
            artifacts=[dataclasses.asdict(a) for a in self.artifacts],
            not_applicable=self.not_applicable,
            verdict=self.verdict,
            match=self.match,
            reasons=list(self.reasons),
            control=self.control.to_json() if self.control else None,
            experiment=self.experiment.to_json() if self.experiment else None,
            started=self.started,
            finished=self.finished,
            duration=self.duration,
        )
        if self.ran is not None:
            data.update(dataclasses.asdict(self.ran))
        if self.repeats is not None:
            data["repeats"] = list(self.repeats)
        # Written only when there is something to say: records of runs without a cache read as before.
        for name in ("cache_key", "cached_from", "rechecked"):
            value = getattr(self, name)
            if value is not None:
                data[name] = dict(value) if isinstance(value, Mapping) else value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "record") -> CellRecord:
        version = data.get("format", 1)
        if not isinstance(version, int) or version > RECORD_FORMAT:
            raise InputError(
                f"{where}: record format {version!r} is newer than this harness reads ({RECORD_FORMAT}); "
                "upgrade isolation-harness to read it"
            )
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{where}: not a cell record this harness can read ({type(exc).__name__}: {exc})"
            ) from None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> CellRecord:
        known = {f.name for f in dataclasses.fields(cls)} | {"pip_version_output", "git_version", "driver_log"}
        pip, python = data["pip"], data["python"]
        engine_fields = {f.name for f in dataclasses.fields(EngineInfo)}
        engine = {k: v for k, v in data["engine"].items() if k in engine_fields}
        engine["notes"] = tuple(engine.get("notes", ()))
        runs = {name: RunRecord.from_json(data[name]) if data.get(name) else None for name in ("control", "experiment")}
        frontend, mode, cell = _upgraded(data)
        return cls(
            run_id=data["run_id"],
            cell=cell,
            scenario=data["scenario"],
            scenario_sha256=data.get("scenario_sha256", ""),
            project_sha256=data.get("project_sha256"),
            python=python["axis"],
            python_exact=python.get("exact"),
            pip=PipUsed(pip["version"], pip.get("source", "pypi"), pip.get("wheel"), pip.get("sha256")),
            frontend=frontend,
            mode=mode,
            frontend_release=data.get("frontend_release"),
            frontend_version=data.get("frontend_version") or _version_in(data, frontend, pip["version"]),
            engine=EngineInfo(**engine),
            expected=data.get("expected"),
            artifacts=tuple(Artifact(a["file"], a["sha256"]) for a in data.get("artifacts", [])),
            not_applicable=data.get("not_applicable"),
            verdict=data["verdict"],
            match=bool(data["match"]),
            reasons=tuple(data.get("reasons", ())),
            control=runs["control"],
            experiment=runs["experiment"],
            started=data.get("started", ""),
            finished=data.get("finished", ""),
            duration=float(data.get("duration", 0.0)),
            ran=Ran(data.get("pip_version_output"), data.get("git_version"), data["driver_log"])
            if "driver_log" in data
            else None,
            repeats=tuple(data["repeats"]) if "repeats" in data else None,
            cache_key=data.get("cache_key"),
            cached_from=data.get("cached_from"),
            rechecked=dict(data["rechecked"]) if data.get("rechecked") else None,
            harness_version=data.get("harness_version", ""),
            format=data.get("format", 1),
            extra={k: v for k, v in data.items() if k not in known and k not in ("python", "pip", "engine")},
        )


def upgraded_cell_id(cell: str) -> str:
    """A cell id as this harness writes it: a renamed frontend (``pip-venv``) becomes its mode."""
    head, _, last = cell.rpartition("/")
    if last in frontends.RENAMED:
        name, mode = frontends.RENAMED[last]
        return f"{head}/{frontends.label(name, None, mode)}"
    return cell


def _upgraded(data: Mapping[str, Any]) -> tuple[str, str, str]:
    """(frontend, mode, cell id) of a record, records made before modes were an axis included: their
    ``pip-venv`` cells are pip in mode venv-isolation."""
    frontend = str(data.get("frontend", "pip"))
    mode = str(data.get("mode", frontends.DEFAULT_MODE))
    if frontend in frontends.RENAMED:
        frontend, mode = frontends.RENAMED[frontend]
    return frontend, mode, upgraded_cell_id(str(data["cell"]))


def _version_in(data: Mapping[str, Any], frontend: str, pip: str) -> str | None:
    """The frontend's version from the artifacts a record lists (records before frontend_version)."""
    dist = frontends.distribution(frontend) if frontend in frontends.FRONTENDS else None
    if dist is None:
        return pip if frontend == "pip" else None
    return artifact_version([a["file"] for a in data.get("artifacts", [])], dist)


def artifact_version(files: Sequence[str], dist: str) -> str | None:
    """The version of distribution ``dist`` among wheel file names (name-version-...whl)."""
    for name in files:
        parts = name.split("-")
        if name.endswith(".whl") and len(parts) >= 2 and parts[0].replace("_", "-").lower() == dist:
            return parts[1]
    return None


def combine_repeats(runs: Sequence[CellRecord]) -> CellRecord:
    """One record from the repeats of a cell: `flaky` when their verdicts differ."""
    first = runs[0]
    if len(runs) == 1:
        return first
    verdicts = tuple(r.verdict for r in runs)
    if len(set(verdicts)) == 1:
        return dataclasses.replace(first, repeats=verdicts)
    reason = f"verdicts differ between {len(runs)} repeats: {', '.join(verdicts)}"
    return dataclasses.replace(first, repeats=verdicts, verdict="flaky", match=False, reasons=(reason,))
