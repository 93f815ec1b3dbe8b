"""Reports and compare from synthetic records (the real-run versions are in test_reports_e2e.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.compare import compare, render
from isolation_harness.report import (
    STEP_SUMMARY_LIMIT,
    append_step_summary,
    compare_frontends,
    junit,
    markdown,
    verdict_table,
)


def rec(py: str, pip: str, verdict: str, *, expected: str | None = None, scenario: str = "metapath") -> dict[str, Any]:
    expected = expected or verdict
    return {
        "cell": f"{scenario}/py{py}/pip{pip}/pip",
        "scenario": scenario,
        "frontend": "pip",
        "python": {"axis": py, "exact": py + ".0"},
        "pip": {"version": pip},
        "verdict": verdict,
        "expected": expected,
        "match": verdict == expected,
        "reasons": [f"because {verdict}"],
        "duration": 1.5,
        "control": None,
        "experiment": None,
    }


RECORDS = [
    rec("3.11", "23.0.1", "broke"),
    rec("3.11", "25.0", "leaked"),
    rec("3.12", "23.0.1", "not-applicable"),
    rec("3.12", "25.0", "held", expected="leaked"),
]


def test_markdown_matrix_marks_unexpected() -> None:
    text = markdown(RECORDS)
    assert "| python | pip 23.0.1 | pip 25.0 |" in text
    assert "| 3.11 | 💥 broke | 💧 leaked |" in text
    assert "| 3.12 | · not-applicable | ✅ held ❗ |" in text
    assert "4 cells, 1 unexpected." in text


def test_junit_one_case_per_cell_and_failures_for_unexpected() -> None:
    root = ET.fromstring(junit(RECORDS).split("\n", 1)[1])
    cases = root.findall(".//testcase")
    assert len(cases) == 4
    failures = root.findall(".//failure")
    assert [f.get("message") for f in failures] == ["verdict held, expected leaked"]
    assert len(root.findall(".//skipped")) == 1
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")


def test_step_summary_stays_under_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never write into a real job summary (this suite runs in GitHub Actions too).
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert not append_step_summary("ignored", None)
    target = tmp_path / "summary.md"
    assert append_step_summary("small\n", str(target))
    assert append_step_summary("x\n" * STEP_SUMMARY_LIMIT, str(target))
    size = target.stat().st_size
    assert size < STEP_SUMMARY_LIMIT
    assert target.read_text().endswith("see the HTML report)\n")


def test_compare_groups_regressions_and_fixes() -> None:
    base = [rec("3.11", "24.0", "held"), rec("3.12", "24.0", "broke"), rec("3.13", "24.0", "leaked")]
    candidate = [rec("3.11", "24.0", "leaked"), rec("3.12", "24.0", "held"), rec("3.13", "24.0", "error")]
    changes, unmatched = compare(base, candidate)
    assert [(c.base_cell, c.kind) for c in changes] == [
        ("metapath/py3.11/pip24.0/pip", "regression"),
        ("metapath/py3.12/pip24.0/pip", "fix"),
        ("metapath/py3.13/pip24.0/pip", "other"),
    ]
    assert unmatched == []
    text = render(changes, unmatched)
    assert "Regressions: 1\n  metapath/py3.11/pip24.0/pip: held -> leaked" in text


def test_compare_across_pip_versions_when_each_run_has_one_pip() -> None:
    base = [rec("3.11", "24.3.1", "broke"), rec("3.12", "24.3.1", "broke")]
    candidate = [rec("3.11", "25.0", "leaked"), rec("3.12", "25.0", "broke")]
    changes, unmatched = compare(base, candidate)
    assert [(c.base, c.candidate, c.kind) for c in changes] == [("broke", "leaked", "fix")]
    assert unmatched == []


def test_reports_show_which_frontend_holds_where_pip_does_not() -> None:
    def other(py: str, pip: str, verdict: str, frontend: str) -> dict[str, Any]:
        record = rec(py, pip, verdict)
        record.update(frontend=frontend, cell=f"metapath/py{py}/pip{pip}/{frontend}")
        return record

    records = [
        *RECORDS,
        other("3.11", "23.0.1", "held", "build"),
        other("3.11", "25.0", "broke", "build"),
        other("3.11", "25.0", "held", "uv"),
        other("3.12", "25.0", "held", "uv"),  # pip held there: not counted
    ]
    assert compare_frontends(records) == [("metapath", "build", 2, 1), ("metapath", "uv", 1, 1)]
    assert "metapath: build held in 1 of 2, uv held in 1 of 1" in verdict_table(records)
    assert "| metapath | uv | 1 | 1 |" in markdown(records)
