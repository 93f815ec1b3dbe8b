"""What a cell installs, resolved on the host before anything runs: one job, one place.

Each (scenario, Python, frontend) is resolved once into the wheel directory; a cell then carries a
:class:`CellInputs` and never goes back to the wheel directory while it runs or is recorded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness import frontends
from isolation_harness.errors import InputError
from isolation_harness.matrix import Cell
from isolation_harness.probewheel import is_probe
from isolation_harness.pyproject import build_requirements
from isolation_harness.scenario import Editable, Scenario
from isolation_harness.sdistproject import materialize
from isolation_harness.wheelhouse import Artifact, Wheelhouse


@dataclass(frozen=True)
class CellInputs:
    wheelhouse: Path  # the folder the cell sees (read-only)
    pip_wheel: Path
    pip: Artifact
    pip_source: str | dict[str, Any]  # "pypi", or where a candidate came from
    artifacts: tuple[Artifact, ...]  # everything the cell could install, pip first (empty if it did not run)
    hidden: tuple[str, ...]  # wheels whose Requires-Python excludes the cell's Python
    editable_pip: Path | None = None  # the pip that makes the scenario's editable installs, if any


# The pip that makes a scenario's real editable installs (steps.Editable): a current release, the same
# whatever pip is under test, so the host holds the same install in every cell of a Python (a user's
# editable install is made once, by whatever pip they had then). The newest that runs on the Python.
EDITABLE_PIPS = ("26.3", "26.0.1", "25.0.1")


def editable_pip(house: Wheelhouse, python: str) -> Path:
    for version in EDITABLE_PIPS:
        if house.requires_python(version).contains(python + ".0", prereleases=True):
            return house.pip_wheel(version)
    # Never the oldest silently: a pip that cannot run there would fail every editable install.
    raise InputError(
        f"--python {python}: none of the pips that make editable installs ({', '.join(EDITABLE_PIPS)}) runs on it; "
        "add one to inputs.EDITABLE_PIPS or leave out that Python"
    )


class InputResolver:
    def __init__(self, wheelhouse: Wheelhouse) -> None:
        self.wheelhouse = wheelhouse
        self._groups: dict[tuple[str, str, str, str | None], list[Path]] = {}
        self._editable: dict[str, Path] = {}  # per Python: read the pips' Requires-Python once
        self._lock = threading.Lock()

    def for_cell(self, cell: Cell, scenario: Scenario) -> CellInputs:
        house = self.wheelhouse
        pip_wheel = house.pip_wheel(cell.pip)
        pip = house.artifact(pip_wheel)
        used: tuple[Artifact, ...] = ()
        hidden: tuple[str, ...] = ()
        tool = None
        if cell.not_applicable is None:
            used = (pip, *(house.artifact(p) for p in self._resolved(cell, scenario)))
            hidden = tuple(house.hidden_from(cell.python, keep={a.file for a in used}))
            if any(isinstance(step, Editable) for step in scenario.contamination):
                with self._lock:
                    if cell.python not in self._editable:
                        self._editable[cell.python] = editable_pip(house, cell.python)
                    tool = self._editable[cell.python]
                used += (house.artifact(tool),) if tool != pip_wheel else ()
        return CellInputs(house.root, pip_wheel, pip, house.provenance(cell.pip) or "pypi", used, hidden, tool)

    def _resolved(self, cell: Cell, scenario: Scenario) -> list[Path]:
        key = (scenario.name, cell.python, cell.frontend, cell.release)
        with self._lock:
            if key not in self._groups:
                self._groups[key] = self._resolve(cell, scenario)
            return self._groups[key]

    def _resolve(self, cell: Cell, scenario: Scenario) -> list[Path]:
        # Each group is resolved on its own: the host may hold an older release of a build
        # requirement (pip #7778, #6264), which one resolution could not satisfy together.
        house = self.wheelhouse
        scenario = materialize(scenario, house)
        groups = [build_requirements(scenario), list(scenario.project.index), *scenario.host_requirement_groups]
        groups.append(list(frontends.get(cell.frontend).requirements_at(cell.release)))
        found = [house.probe_wheel(), *house.sdists(scenario.source_distributions)]
        for group in groups:
            # The probe is built here, never downloaded: a scenario may install it into the host (a
            # build without isolation still reports what it saw), and it is always in the cell.
            wanted = [r for r in group if not is_probe(r)]
            found += [p for p in house.requirements(wanted, cell.python) if p not in found]
        return found
