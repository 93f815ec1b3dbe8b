"""A run folder, the one module that knows its layout.

    <out>/<run-id>/
        results.jsonl       one CellRecord per line, each appended whole and fsynced
        plan.json           the cells a run set out to do (resume completes it)
        changes.json        run --changes: each pip axis, the releases measured on it, its changes
        scenarios/          the scenario files (and fixtures) the cells used: repro, replay, resume
        cells/<slug>/       each cell's driver output: driver.log, result.json, control/, experiment/
        merged.json         for a folder merged from shard runs

A crash leaves a record whole or absent; the reader skips (and reports) a damaged line rather than
failing, so nothing already recorded is lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from isolation_harness import frontends as frontends_table
from isolation_harness.errors import InputError
from isolation_harness.record import CellRecord, upgraded_cell_id
from isolation_harness.scenario import FIXTURES, Scenario, find_scenario, load_scenario

RESULTS = "results.jsonl"
PLAN = "plan.json"
CHANGES = "changes.json"  # run --changes: the pip axes and their change points


@dataclass(frozen=True)
class Plan:
    cells: tuple[str, ...]
    scenarios: tuple[str, ...]
    pythons: tuple[str, ...]
    pips: tuple[str, ...]
    frontends: tuple[str, ...]  # as --frontend takes them: pip, build==1.4.2
    repeat: int = 1
    timeout: int | None = None
    sources: str = ""  # where the scenarios and the matrix came from (./, bundled or given)
    modes: tuple[str, ...] = ()  # pip's modes (empty in plans made before modes were an axis)


# A run id is a folder name: file systems allow 255 bytes. The whole catalogue named on the command
# line (24 scenarios) once made one of 430 and crashed the run (OSError: File name too long).
MAX_NAMES = 100


def new_run_id(names: Sequence[str]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    joined = "+".join(names)
    if len(joined) > MAX_NAMES:
        joined = f"{names[0]}+{len(names) - 1}-more"
    return f"{stamp}-{joined}-{secrets.token_hex(3)}"


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self._lock = threading.Lock()

    @classmethod
    def create(cls, out: Path, run_id: str) -> RunFolder:
        folder = cls(out / run_id)
        folder.path.mkdir(parents=True, exist_ok=True)
        return folder

    @classmethod
    def existing(cls, path: Path, *, option: str = "RUN_DIR") -> RunFolder:
        """A finished (or interrupted) run's folder, or InputError naming what to pass instead."""
        if not (path / RESULTS).is_file():
            raise InputError(f"{option} {path}: no {RESULTS}; pass the folder of a run (results/<run-id>)")
        return cls(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    def cell_dir(self, slug: str, attempt: int = 0) -> Path:
        return self.path / "cells" / (slug if attempt == 0 else f"{slug}__repeat{attempt}")

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.path))
        except ValueError:
            return str(path)

    # records

    def append(self, record: CellRecord, *, sync: bool = True) -> None:
        """One record, on disk when this returns; ``sync=False`` leaves it to the system's cache
        until ``sync()`` (a burst of records that cost nothing to make again: planned holes, cells
        from the result cache; an fsync each is 2 ms, a minute over the catalogue's 37,081)."""
        line = (json.dumps(record.to_json(), sort_keys=True) + "\n").encode()
        with self._lock:
            fd = os.open(self.results, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if _torn(fd):  # a crash cut the last line: the next record must not be glued onto it
                    line = b"\n" + line
                os.write(fd, line)
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)

    def sync(self) -> None:
        """The records appended with ``sync=False``, on disk."""
        with self._lock:
            if self.results.exists():
                fd = os.open(self.results, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def records(self, *, damaged: list[str] | None = None) -> list[CellRecord]:
        return [
            CellRecord.from_json(data, where=f"{self.results}:{number}")
            for number, data in _lines(self.results, damaged)
        ]

    def by_cell(self) -> dict[str, CellRecord]:
        return {r.cell: r for r in self.records()}

    # the plan

    def write_plan(self, plan: Plan) -> None:
        """Written once: a resumed run keeps the plan it set out with."""
        target = self.path / PLAN
        if not target.exists():
            _atomic_write(target, json.dumps(dataclasses.asdict(plan), indent=1))

    def write_changes(self, axes: list[dict[str, Any]]) -> None:
        """The change points of a ``run --changes``: each axis, what was measured on it, the changes."""
        _atomic_write(self.path / CHANGES, json.dumps({"axes": axes}, indent=1))

    def changes(self) -> list[dict[str, Any]]:
        """The axes of a ``run --changes`` (none for another run)."""
        try:
            data = json.loads((self.path / CHANGES).read_text())
        except OSError:
            return []
        except ValueError:
            raise InputError(f"{self.path / CHANGES}: not readable JSON; run the change points again") from None
        axes = data.get("axes") if isinstance(data, dict) else None
        return axes if isinstance(axes, list) else []

    def plan(self) -> Plan:
        try:
            data: dict[str, Any] = json.loads((self.path / PLAN).read_text())
            return _plan(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"--resume {self.path}: no readable {PLAN}; pass the folder of a run to resume") from None

    # the scenario copies

    def keep_scenarios(self, scenarios: Iterable[Scenario]) -> None:
        """The run keeps the scenario files it used, so repro, replay and resume work after they change."""
        (self.path / "scenarios").mkdir(exist_ok=True)
        for scenario in {s.source: s for s in scenarios}.values():
            copy = self.path / "scenarios" / f"{scenario.name}.yaml"
            if copy.resolve() == scenario.source.resolve():
                continue
            shutil.copyfile(scenario.source, copy)
            for name in scenario.fixtures:
                fixture = Path(FIXTURES) / name
                shutil.copytree(scenario.source.parent / fixture, self.path / "scenarios" / fixture, dirs_exist_ok=True)

    def scenario(self, name: str) -> Scenario:
        return find_scenario(self.path / "scenarios", name)

    def scenario_of(self, record: CellRecord) -> Scenario:
        """The scenario exactly as it was when the cell ran, checked against the record's hashes."""
        path = self.path / "scenarios" / f"{record.scenario}.yaml"
        if not path.is_file():
            raise InputError(f"{self.path}: no copy of scenario {record.scenario!r} in the run folder")
        if hashlib.sha256(path.read_bytes()).hexdigest() != record.scenario_sha256:
            raise InputError(f"{path}: differs from the scenario the record was made with (sha256 mismatch)")
        scenario = load_scenario(path)
        if (record.project_sha256 or scenario.project.digest) != scenario.project.digest:
            raise InputError(f"{path}: its project files differ from the ones the record was made with")
        return scenario

    def record_of(self, cell: str) -> CellRecord:
        records = self.records()
        for record in records:
            if record.cell == cell:
                return record
        known = ", ".join(sorted(r.cell for r in records)[:5])
        raise InputError(f"{self.path}: no cell {cell!r} in {RESULTS} (cells look like: {known}, ...)")

    # merging shards

    def merge_from(self, sources: Sequence[RunFolder]) -> list[CellRecord]:
        """Join the records (and cell folders, scenario copies) of shard runs into this empty folder."""
        if self.path.exists() and any(self.path.iterdir()):
            raise InputError(f"--out {self.path}: exists and is not empty; merge into a new folder")
        seen: dict[str, Path] = {}
        records: list[CellRecord] = []
        for source in sources:
            for record in source.records():
                if record.cell in seen:
                    raise InputError(
                        f"{source.path}: cell {record.cell} is also in {seen[record.cell]}; shards overlap"
                    )
                seen[record.cell] = source.path
                records.append(record)
        self.path.mkdir(parents=True, exist_ok=True)
        for source in sources:
            for sub in ("scenarios", "cells"):
                if (source.path / sub).is_dir():
                    shutil.copytree(source.path / sub, self.path / sub, dirs_exist_ok=True)
        for record in sorted(records, key=lambda r: r.cell):
            self.append(record)
        summary = {"from": [str(s.path) for s in sources], "cells": len(records)}
        (self.path / "merged.json").write_text(json.dumps(summary, indent=1))
        return records


def _plan(data: dict[str, Any]) -> Plan:
    # A plan made before pip's modes were an axis names pip-venv as a frontend: pip in that mode.
    frontends = [frontends_table.RENAMED.get(f, (f, ""))[0] for f in data.get("frontends", ())]
    modes = list(data.get("modes", ()))
    if not modes and any(f in frontends_table.RENAMED for f in data.get("frontends", ())):
        modes = [frontends_table.DEFAULT_MODE, *(m for f, m in frontends_table.RENAMED.values())]
    return Plan(
        cells=tuple(upgraded_cell_id(c) for c in data["cells"]),
        scenarios=tuple(data["scenarios"]),
        pythons=tuple(data["pythons"]),
        pips=tuple(data["pips"]),
        frontends=tuple(dict.fromkeys(frontends)),
        repeat=data.get("repeat", 1),
        timeout=data.get("timeout"),
        sources=data.get("sources", ""),
        modes=tuple(modes),
    )


def _lines(path: Path, damaged: list[str] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if isinstance(data, dict):
                yield number, data
            elif damaged is not None:
                damaged.append(f"{path}:{number}: damaged record skipped")


def _torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
