"""The matrix: axes, applicability rules, and the plan of cells for a scenario.

Cells that cannot run are kept in the plan as `not-applicable` with their reason, never dropped: a
hole in a verdict table should always say why it is a hole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from isolation_harness import frontends as fe
from isolation_harness._strict import Node, load_yaml
from isolation_harness.errors import InputError
from isolation_harness.frontends import DEFAULT_MODE, MODE_NAMES
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
    modes: tuple[str, ...] = (DEFAULT_MODE,)
    # The releases each frontend other than pip runs at; one not listed runs at what the wheel
    # directory resolves (its exact version is in each record).
    frontend_releases: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def narrowing(self, scenario: str) -> Narrowing:
        return dict(self.scenarios).get(scenario, Narrowing(None, None))

    def releases(self, frontend: str) -> tuple[str | None, ...]:
        return dict(self.frontend_releases).get(frontend) or (None,)


class AxisFacts(Protocol):
    """What planning reads of the pips and frontend releases (the wheel directory answers)."""

    def requires_python(self, version: str) -> SpecifierSet: ...

    def pip_features(self, version: str) -> frozenset[str]: ...

    def release_requires_python(self, requirement: str) -> SpecifierSet: ...


@dataclass(frozen=True)
class Cell:
    scenario: str
    python: str  # "3.12": the axis value; the exact interpreter version is in the record
    pip: str
    frontend: str
    expected: Verdict | None
    not_applicable: str | None = None  # the reason, when the cell cannot run
    mode: str = DEFAULT_MODE  # pip's isolation mode (frontends.MODES)
    release: str | None = None  # the frontend's release asked for; None: what the wheel directory resolves

    @property
    def label(self) -> str:
        """The frontend as the id and the tables write it: pip, pip+venv-isolation, build==1.4.2."""
        return fe.label(self.frontend, self.release, self.mode)

    @property
    def id(self) -> str:
        return f"{self.scenario}/py{self.python}/pip{self.pip}/{self.label}"

    @property
    def slug(self) -> str:
        return self.id.replace("/", "__")


def load_matrix(path: Path) -> Matrix:
    root = Node(path, "", load_yaml(path))
    fields = root.mapping(
        required=("pythons", "pips"),
        optional=("frontends", "modes", "frontend-releases", "known-failures", "scenarios"),
    )
    pythons = _pythons(fields["pythons"])
    pips = _pips(fields["pips"])
    frontends_node = fields.get("frontends")
    frontends = tuple(_frontend_name(n) for n in frontends_node.items()) if frontends_node else ("pip",)
    modes_node = fields.get("modes")
    modes = tuple(n.choice(MODE_NAMES) for n in modes_node.items()) if modes_node else (DEFAULT_MODE,)
    releases = _frontend_releases(fields.get("frontend-releases"))
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
    return Matrix(pythons, pips, frontends, tuple(failures), tuple(narrowings), path, modes, releases)


def _frontend_name(node: Node) -> str:
    where = f"{node.path}: key '{node.key}':"
    pinned = fe.parse_pinned(node.text(), where=where)
    if pinned.release is not None:
        node.fail(
            "a frontend's releases go under frontend-releases",
            f"write frontend-releases: {{{pinned.name}: [{pinned.release}]}}",
        )
    return pinned.name


def _frontend_releases(node: Node | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if node is None:
        return ()
    if not isinstance(node.value, dict):
        node.fail("expected a mapping of frontend names to lists of releases")
    out: list[tuple[str, tuple[str, ...]]] = []
    for name in node.value:
        child = node.child(str(name), node.value[name])
        values = tuple(str(v.value) if isinstance(v.value, (int, float)) else v.text() for v in child.items())
        for value in values:  # each checked like a --frontend NAME==RELEASE
            fe.parse_pinned(f"{name}=={value}", where=f"{node.path}: key '{node.key}.{name}':")
        out.append((str(name), values))
    return tuple(out)


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
    facts: AxisFacts,
    pythons: Sequence[str] = (),
    pips: Sequence[str] = (),
    frontends: Sequence[str] = (),
    modes: Sequence[str] = (),
) -> list[Cell]:
    """Every cell of the scenario's matrix, narrowed by the command line, in a stable order."""
    variants = _variants(matrix, frontends, modes)
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
    for name, release, mode in variants:
        frontend = fe.get(name)
        for py in py_axis:
            yv = Version(py)
            runnable = [
                p for p in pip_versions if _not_applicable(matrix, Version(p), yv, facts.requires_python(p)) is None
            ]
            newest = Version(runnable[-1]) if runnable else None
            for_release = _release_not_applicable(facts, name, release, yv)
            for pip in pip_versions:
                pv = Version(pip)
                reason = (
                    _not_applicable(matrix, pv, yv, facts.requires_python(pip))
                    or _outside(scenario.name, narrow, py, pv)
                    or scenario.skipped(name)
                    or frontend.not_applicable(pv, newest)
                    or for_release
                    or _mode_not_applicable(facts, mode, pv, pip)
                )
                expected = (
                    Verdict.NOT_APPLICABLE
                    if reason
                    else scenario.expected(pip=pv, python=yv, frontend=name, mode=mode, release=release)
                )
                cells.append(Cell(scenario.name, py, pip, name, expected, reason, mode, release))
    return cells


def _variants(matrix: Matrix, frontends: Sequence[str], modes: Sequence[str]) -> list[tuple[str, str | None, str]]:
    """(frontend, release, mode) in a stable order. ``--mode`` narrows pip's modes; the other
    frontends have one way to run, and are left out when ``--mode`` is given without naming them."""
    for value in modes:
        fe.mode(value)
    mode_axis = tuple(modes) or matrix.modes
    pinned = [fe.parse_pinned(value) for value in frontends]
    if pinned:
        pairs = [(p.name, r) for p in pinned for r in ((p.release,) if p.release else matrix.releases(p.name))]
    else:
        pairs = [(name, r) for name in matrix.frontends for r in matrix.releases(name)]
    variants: list[tuple[str, str | None, str]] = []
    for name, release in dict.fromkeys(pairs):
        if fe.get(name).has_modes:
            variants += [(name, release, mode) for mode in mode_axis]
        elif pinned or not modes or DEFAULT_MODE in modes:
            variants.append((name, release, DEFAULT_MODE))
    return variants


def _release_not_applicable(facts: AxisFacts, name: str, release: str | None, python: Version) -> str | None:
    if release is None:
        return None
    requirement = fe.get(name).requirements_at(release)[0]
    requires = facts.release_requires_python(requirement)
    if not requires.contains(python, prereleases=True):
        return f"{requirement} requires Python {requires} (its Requires-Python)"
    return None


def _outside(name: str, narrow: Narrowing, python: str, pip: Version) -> str | None:
    """A cell the command line asked for that the scenario's own axes in matrix.yaml leave out: it is
    planned as not-applicable with the reason, never run (keyring-build-deps' requirements do not
    exist for Python 3.8). A pip under test that is not a release (a checkout, a wheel: a local
    version) is not narrowed."""
    if narrow.pythons is not None and python not in narrow.pythons:
        return f"{name} runs on Pythons {', '.join(narrow.pythons)} only (matrix.yaml, scenarios: {name})"
    if narrow.pips is not None and pip.local is None and str(pip) not in {str(Version(p)) for p in narrow.pips}:
        return f"{name} runs with pips {', '.join(narrow.pips)} only (matrix.yaml, scenarios: {name})"
    return None


def _mode_not_applicable(facts: AxisFacts, mode: str, pip: Version, label: str) -> str | None:
    chosen = fe.MODES[mode]
    return chosen.not_applicable(pip, facts.pip_features(label)) if chosen.features else None


def _not_applicable(matrix: Matrix, pip: Version, python: Version, requires: SpecifierSet) -> str | None:
    if not requires.contains(python, prereleases=True):
        return f"pip {pip} requires Python {requires} (its Requires-Python)"
    for rule in matrix.known_failures:
        if rule.pip.contains(pip, prereleases=True) and rule.python.contains(python, prereleases=True):
            return rule.reason
    return None
