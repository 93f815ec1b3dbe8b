"""The matrix: axes, applicability rules, and the plan of cells for a scenario.

Cells that cannot run are kept in the plan as `not-applicable` with their reason, never dropped: a
hole in a verdict table should always say why it is a hole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from isolation_harness import frontends as fe
from isolation_harness._strict import Node, load_yaml
from isolation_harness.errors import InputError
from isolation_harness.frontends import NAMES as FRONTENDS
from isolation_harness.scenario import Scenario
from isolation_harness.verdict import Verdict

PYTHON_RE = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True)
class KnownFailure:
    """A (pip, python) range where pip cannot even start, with the reason recorded in each cell."""

    pip: SpecifierSet
    python: SpecifierSet
    reason: str


@dataclass(frozen=True)
class Narrowing:
    pythons: tuple[str, ...] | None
    pips: tuple[str, ...] | None


@dataclass(frozen=True)
class Matrix:
    pythons: tuple[str, ...]
    pips: tuple[str, ...]
    frontends: tuple[str, ...]
    known_failures: tuple[KnownFailure, ...]
    scenarios: tuple[tuple[str, Narrowing], ...]
    source: Path

    def narrowing(self, scenario: str) -> Narrowing:
        return dict(self.scenarios).get(scenario, Narrowing(None, None))


@dataclass(frozen=True)
class Cell:
    scenario: str
    python: str  # "3.12": the axis value; the exact interpreter version is in the record
    pip: str
    frontend: str
    expected: Verdict | None
    not_applicable: str | None = None  # the reason, when the cell cannot run

    @property
    def id(self) -> str:
        return f"{self.scenario}/py{self.python}/pip{self.pip}/{self.frontend}"

    @property
    def slug(self) -> str:
        return self.id.replace("/", "__")


def load_matrix(path: Path) -> Matrix:
    root = Node(path, "", load_yaml(path))
    fields = root.mapping(required=("pythons", "pips"), optional=("frontends", "known-failures", "scenarios"))
    pythons = _pythons(fields["pythons"])
    pips = _pips(fields["pips"])
    frontends_node = fields.get("frontends")
    frontends = tuple(n.choice(FRONTENDS) for n in frontends_node.items()) if frontends_node else ("pip",)
    failures: list[KnownFailure] = []
    failures_node = fields.get("known-failures")
    for item in failures_node.items(allow_empty=True) if failures_node else []:
        f = item.mapping(required=("pip", "python", "reason"))
        failures.append(KnownFailure(f["pip"].specifier(), f["python"].specifier(), f["reason"].text()))
    narrowings: list[tuple[str, Narrowing]] = []
    scen_node = fields.get("scenarios")
    if scen_node is not None:
        if not isinstance(scen_node.value, dict):
            scen_node.fail("expected a mapping of scenario names")
        for name in scen_node.value:
            n = scen_node.child(str(name), scen_node.value[name]).mapping(optional=("pythons", "pips"))
            py, pp = n.get("pythons"), n.get("pips")
            narrowings.append((str(name), Narrowing(_pythons(py) if py else None, _pips(pp) if pp else None)))
    return Matrix(pythons, pips, frontends, tuple(failures), tuple(narrowings), path)


def _pythons(node: Node) -> tuple[str, ...]:
    for item in node.items():
        if isinstance(item.value, (int, float)) and not isinstance(item.value, bool):
            item.fail(f"{item.value} is a number, and YAML reads 3.10 as 3.1", 'quote Python versions: "3.10"')
    values = node.texts()
    for i, value in enumerate(values):
        if not PYTHON_RE.match(value):
            node.child(i, value).fail(f"'{value}' is not a Python version like '3.12'", 'quote it: "3.10" not 3.10')
    return values


def _pips(node: Node) -> tuple[str, ...]:
    values = tuple(str(v.value) if isinstance(v.value, (int, float)) else v.text() for v in node.items())
    for i, value in enumerate(values):
        check_pip_version(value, where=f"{node.path}: key '{node.key}[{i}]'")
    return values


def check_pip_version(value: str, *, where: str) -> Version:
    try:
        return Version(value)
    except InvalidVersion:
        raise InputError(f"{where}: '{value}' is not a pip release number like 24.3.1") from None


def plan(
    scenario: Scenario,
    matrix: Matrix,
    *,
    requires_python: Callable[[str], SpecifierSet],
    pythons: Sequence[str] = (),
    pips: Sequence[str] = (),
    frontends: Sequence[str] = (),
) -> list[Cell]:
    """Every cell of the scenario's matrix, narrowed by the command line, in a stable order."""
    for value in frontends:
        if value not in FRONTENDS:
            raise InputError(f"--frontend {value}: not a frontend; known: {', '.join(FRONTENDS)}")
    frontend_axis = tuple(frontends) or matrix.frontends
    narrow = matrix.narrowing(scenario.name)
    py_axis = tuple(pythons) or narrow.pythons or matrix.pythons
    pip_axis = tuple(pips) or narrow.pips or matrix.pips
    for value in py_axis:
        if not PYTHON_RE.match(value):
            raise InputError(f"--python {value}: not a Python version like 3.12")
    for value in pip_axis:
        check_pip_version(value, where=f"--pip {value}")
    cells: list[Cell] = []
    pip_versions = sorted(set(pip_axis), key=Version)
    for name in frontend_axis:
        frontend = fe.get(name)
        for py in py_axis:
            yv = Version(py)
            runnable = [p for p in pip_versions if _not_applicable(matrix, Version(p), yv, requires_python(p)) is None]
            newest = Version(runnable[-1]) if runnable else None
            for pip in pip_versions:
                pv = Version(pip)
                reason = (
                    _not_applicable(matrix, pv, yv, requires_python(pip))
                    or scenario.skipped(name)
                    or frontend.not_applicable(pv, newest)
                )
                expected = Verdict.NOT_APPLICABLE if reason else scenario.expected(pip=pv, python=yv, frontend=name)
                cells.append(Cell(scenario.name, py, pip, name, expected, reason))
    return cells


def _not_applicable(matrix: Matrix, pip: Version, python: Version, requires: SpecifierSet) -> str | None:
    if not requires.contains(python, prereleases=True):
        return f"pip {pip} requires Python {requires} (its Requires-Python)"
    for rule in matrix.known_failures:
        if rule.pip.contains(pip, prereleases=True) and rule.python.contains(python, prereleases=True):
            return rule.reason
    return None
