"""The scenario catalogue: every known isolation bug has a file that cites its upstream report, says
what a maintainer learns from it, and expects a verdict for every cell of its matrix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from isolation_harness.errors import ConfigError
from isolation_harness.matrix import Matrix, plan
from isolation_harness.scenario import load_scenario
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
    for cell in plan(scenario, matrix, facts=wheelhouse):
        if cell.not_applicable is None and cell.expected is None:
            found.append(f"{cell.id}: no expectation covers this cell")
    return found


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
