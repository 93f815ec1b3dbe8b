"""A scenario's expectations: which verdict it expects in which cells, first match wins.

A rule narrows by pip release, Python, frontend (``build``, or ``build>=1.4.3`` for the frontend's own
releases) and pip's mode; a key it does not give covers every value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from isolation_harness._strict import Node
from isolation_harness.frontends import DEFAULT_MODE, MODE_NAMES, RENAMED
from isolation_harness.frontends import NAMES as FRONTENDS
from isolation_harness.frontends import get as get_frontend
from isolation_harness.verdict import Verdict

# The verdicts a scenario may expect: `error` is always the harness's fault, `flaky` never a finding.
EXPECTABLE = tuple(v.value for v in Verdict if v not in (Verdict.ERROR, Verdict.FLAKY))


@dataclass(frozen=True)
class Expectation:
    verdict: Verdict
    pip: SpecifierSet = field(default_factory=SpecifierSet)
    python: SpecifierSet = field(default_factory=SpecifierSet)
    # (name, releases): empty: every frontend; a frontend with a specifier (``build>=1.4.3``) covers
    # only cells pinned to a release inside it.
    frontends: tuple[tuple[str, SpecifierSet], ...] = ()
    modes: tuple[str, ...] = ()  # pip's modes; empty: every mode

    def matches(
        self,
        *,
        pip: Version,
        python: Version,
        frontend: str = "pip",
        mode: str = DEFAULT_MODE,
        release: str | None = None,
    ) -> bool:
        return (
            self.pip.contains(pip, prereleases=True)
            and self.python.contains(python, prereleases=True)
            and (not self.frontends or any(_covers(name, spec, frontend, release) for name, spec in self.frontends))
            and (not self.modes or mode in self.modes)
        )


def _covers(name: str, spec: SpecifierSet, frontend: str, release: str | None) -> bool:
    if name != frontend:
        return False
    if not str(spec):
        return True
    return release is not None and spec.contains(release, prereleases=True)


def read_expectation(node: Node) -> Expectation:
    fields = node.mapping(required=("verdict",), optional=("pip", "python", "frontend", "mode"))
    verdict = Verdict(fields["verdict"].choice(EXPECTABLE))
    frontends = tuple(_frontend_rule(item) for item in _one_or_list(fields.get("frontend")))
    modes = tuple(item.choice(MODE_NAMES) for item in _one_or_list(fields.get("mode")))
    return Expectation(
        verdict=verdict,
        pip=_specifier(fields.get("pip")),
        python=_specifier(fields.get("python")),
        frontends=frontends,
        modes=modes,
    )


def _one_or_list(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return node.items() if isinstance(node.value, list) else [node]


def _frontend_rule(node: Node) -> tuple[str, SpecifierSet]:
    """``build`` or ``build>=1.4.3``: a frontend name, with a specifier on its own releases."""
    text = node.text().strip()
    match = re.match(r"^([A-Za-z][\w-]*)\s*(.*)$", text)
    name, spec = (match.group(1), match.group(2)) if match else (text, "")
    old = RENAMED.get(name)
    if old is not None:
        node.fail(f"'{name}' is now frontend {old[0]} in mode {old[1]}", f"write frontend: {old[0]} and mode: {old[1]}")
    if name not in FRONTENDS:
        node.fail(f"'{name}' is not one of {', '.join(FRONTENDS)}")
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        node.fail(f"'{spec}' is not a version specifier", "write it like build>=1.4.3")
    if str(specifier) and not get_frontend(name).releases_axis:
        node.fail(f"{name}'s releases are the pip axis", "put the specifier under pip:")
    return name, specifier


def _specifier(node: Node | None) -> SpecifierSet:
    return SpecifierSet() if node is None else node.specifier()
