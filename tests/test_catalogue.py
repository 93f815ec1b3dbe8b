"""The scenario catalogue: every known isolation bug has a file that cites its upstream report, says
what a maintainer learns from it, and expects a verdict for every cell of its matrix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.version import Version

from isolation_harness.errors import ConfigError
from isolation_harness.frontends import DEFAULT_MODE
from isolation_harness.matrix import Cell, Matrix, plan
from isolation_harness.scenario import load_scenario
from isolation_harness.upstream import Upstream
from isolation_harness.verdict import Verdict
from isolation_harness.wheelhouse import Wheelhouse
from tests.conftest import SCENARIOS

FILES = sorted(SCENARIOS.glob("*.yaml"))
# Where an upstream report or the text a scenario replays can live.
UPSTREAM = re.compile(
    r"^https://(github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+|discuss\.python\.org/|peps\.python\.org/"
    r"|pip\.pypa\.io/|docs\.python\.org/)"
)
# Issue 4's list, plus the founding scenarios.
REQUIRED = {
    "metapath",
    "vcs-target",
    "pth-exec",
    "pth-setuptools",
    "system-site-packages",
    "distutils-hack",
    "pipconf-no-deps",
    "user-site",
    "path-scripts",
    "self-hosting-backend",
    "dev-backend",
    "dev-backend-wheels",
    "build-pythonpath",  # issue 17's, early: pypa/build's releases differ on it (issue 16)
}


def problems(path: Path, matrix: Matrix, wheelhouse: Wheelhouse) -> list[str]:
    """What is missing from one scenario file; empty when it is complete."""
    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        return [str(exc)]
    found = []
    if not any(UPSTREAM.match(ref) for ref in scenario.references):
        found.append("no upstream reference (an issue, pull request, PEP or documentation page)")
    if len(scenario.summary.split()) < 6:
        found.append("the summary does not say what the scenario shows")
    cells = plan(scenario, matrix, facts=wheelhouse)
    for cell in cells:
        if cell.not_applicable is None and cell.expected is None:
            found.append(f"{cell.id}: no expectation covers this cell")
    if scenario.upstream is None:
        found.append("no upstream: (url, state: open|fixed|unreported, fixed-in for a fixed report)")
    else:
        found.extend(fixed_in_problems(scenario.upstream, cells, matrix))
    return found


def fixed_in_problems(upstream: Upstream, cells: list[Cell], matrix: Matrix) -> list[str]:
    """Each fixed-in release must show in the expectations: from the newest release of the matrix
    before it to the first one at or after it, the expected verdict changes on some Python measured at
    both. A fix older than every release of the matrix (user-site's pip 10.0.1) has nothing to show."""
    found = []
    for name, fixed in upstream.fixed_in:
        axis = sorted(Version(v) for v in (matrix.pips if name == "pip" else filter(None, matrix.releases(name))))
        before, after = [v for v in axis if v < fixed], [v for v in axis if v >= fixed]
        if not before:
            continue
        if not after:
            found.append(f"fixed-in {name} {fixed} is newer than every {name} release of matrix.yaml: add it")
            continue
        old, new = _expected(cells, name, before[-1]), _expected(cells, name, after[0])
        if not any(old[key] != new[key] for key in old.keys() & new.keys()):
            found.append(
                f"fixed-in {name} {fixed}: the expected verdicts do not change from {name} {before[-1]} to "
                f"{after[0]} on any Python measured at both"
            )
    return found


def _expected(cells: list[Cell], name: str, release: Version) -> dict[tuple[str, str], Verdict | None]:
    """The expected verdict per Python (and host pip, for build and uv) at one release of ``name``."""
    if name == "pip":
        chosen = [c for c in cells if c.frontend == "pip" and c.mode == DEFAULT_MODE and Version(c.pip) == release]
        return {(c.python, ""): c.expected for c in chosen if c.not_applicable is None}
    chosen = [c for c in cells if c.frontend == name and c.release and Version(c.release) == release]
    return {(c.python, c.pip): c.expected for c in chosen if c.not_applicable is None}


def test_the_catalogue_holds_the_known_bugs() -> None:
    assert {p.stem for p in FILES} >= REQUIRED


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_is_complete(path: Path, matrix: Matrix, wheelhouse: Wheelhouse) -> None:
    assert problems(path, matrix, wheelhouse) == []


def test_the_check_finds_what_is_missing(tmp_path: Path, matrix: Matrix, wheelhouse: Wheelhouse) -> None:
    text = (SCENARIOS / "metapath.yaml").read_text()
    no_refs = tmp_path / "metapath.yaml"
    no_refs.write_text(re.sub(r"(?ms)^references:\n(  - .*?\n)+", "references: [https://example.org/x]\n", text))
    assert problems(no_refs, matrix, wheelhouse) == [
        "no upstream reference (an issue, pull request, PEP or documentation page)"
    ]
    no_summary = tmp_path / "other" / "metapath.yaml"
    no_summary.parent.mkdir()
    no_summary.write_text(re.sub(r"(?m)^summary: .*$", "", text))
    assert "key 'summary': missing required key" in problems(no_summary, matrix, wheelhouse)[0]
    # Expectations that stop at pip 25 leave the newer cells uncovered.
    gap = tmp_path / "gap" / "metapath.yaml"
    gap.parent.mkdir()
    gap.write_text(text.replace('  - pip: ">=25"\n    verdict: leaked\n', ""))
    missing = problems(gap, matrix, wheelhouse)
    assert "metapath/py3.12/pip26.3/pip: no expectation covers this cell" in missing


def test_the_check_finds_a_fixed_in_release_the_expectations_contradict(
    tmp_path: Path, matrix: Matrix, wheelhouse: Wheelhouse
) -> None:
    text = (SCENARIOS / "vcs-target.yaml").read_text()
    assert 'fixed-in: {pip: "24.3"}' in text
    wrong = tmp_path / "vcs-target.yaml"
    wrong.write_text(text.replace('fixed-in: {pip: "24.3"}', 'fixed-in: {pip: "26.0"}'))
    assert problems(wrong, matrix, wheelhouse) == [
        "fixed-in pip 26.0: the expected verdicts do not change from pip 25.3 to 26.0.1 on any Python measured at both"
    ]
    ahead = tmp_path / "ahead" / "vcs-target.yaml"
    ahead.parent.mkdir()
    ahead.write_text(text.replace('fixed-in: {pip: "24.3"}', 'fixed-in: {pip: "99.0"}'))
    assert problems(ahead, matrix, wheelhouse) == [
        "fixed-in pip 99.0 is newer than every pip release of matrix.yaml: add it"
    ]
