"""Reports, compare, merge and repro from synthetic records (tests/records_synthetic.py): what they read
is a run folder, so no cell has to run; what only a real cell shows is in test_reports_e2e.py."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.compare import compare, render
from isolation_harness.errors import InputError
from isolation_harness.record import CellRecord
from isolation_harness.report import (
    STEP_SUMMARY_LIMIT,
    append_step_summary,
    compare_frontends,
    junit,
    markdown,
    verdict_table,
    write_reports,
)
from isolation_harness.repro import script
from isolation_harness.runfolder import RunFolder
from isolation_harness.shards import merge
from isolation_harness.spec import SPEC_VERSION
from isolation_harness.wheelhouse import Wheelhouse

from .records_synthetic import RUN_ID, SAME, record, run_folder

MODES = ("inprocess-build-deps", "venv-isolation", "inprocess-build-deps+venv-isolation")
BUILDS = ("1.4.2", "1.4.3", "1.4.4")


@pytest.fixture
def folder(tmp_path: Path) -> RunFolder:
    return RunFolder.create(tmp_path, RUN_ID)


def rec(
    folder: RunFolder,
    py: str,
    pip: str,
    verdict: str,
    *,
    expected: str | None = SAME,
    scenario: str = "metapath",
    frontend: str = "pip",
) -> CellRecord:
    return record(folder, scenario, python=py, pip=pip, frontend=frontend, verdict=verdict, expected=expected)


@pytest.fixture
def records(folder: RunFolder) -> list[CellRecord]:
    return [
        rec(folder, "3.11", "23.0.1", "broke"),
        rec(folder, "3.11", "25.0", "leaked"),
        rec(folder, "3.12", "23.0.1", "not-applicable"),
        rec(folder, "3.12", "25.0", "held", expected="leaked"),
    ]


def test_markdown_matrix_marks_unexpected(records: list[CellRecord]) -> None:
    text = markdown(records)
    assert "| python | pip 23.0.1 | pip 25.0 |" in text
    assert "| 3.11 | 💥 broke | 💧 leaked |" in text
    assert "| 3.12 | · not-applicable | ✅ held ❗ |" in text
    assert "4 cells, 1 unexpected." in text


def test_junit_one_case_per_cell_and_failures_for_unexpected(records: list[CellRecord]) -> None:
    root = ET.fromstring(junit(records).split("\n", 1)[1])
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


def test_compare_groups_regressions_and_fixes(folder: RunFolder) -> None:
    base = [
        rec(folder, py, "24.0", verdict) for py, verdict in (("3.11", "held"), ("3.12", "broke"), ("3.13", "leaked"))
    ]
    candidate = [
        rec(folder, py, "24.0", verdict) for py, verdict in (("3.11", "leaked"), ("3.12", "held"), ("3.13", "error"))
    ]
    changes, unmatched = compare(base, candidate)
    assert [(c.base_cell, c.kind) for c in changes] == [
        ("metapath/py3.11/pip24.0/pip", "regression"),
        ("metapath/py3.12/pip24.0/pip", "fix"),
        ("metapath/py3.13/pip24.0/pip", "other"),
    ]
    assert unmatched == []
    text = render(changes, unmatched)
    assert "Regressions: 1\n  metapath/py3.11/pip24.0/pip: held -> leaked" in text


def test_compare_across_pip_versions_when_each_run_has_one_pip(folder: RunFolder) -> None:
    base = [rec(folder, "3.11", "24.3.1", "broke"), rec(folder, "3.12", "24.3.1", "broke")]
    candidate = [rec(folder, "3.11", "25.0", "leaked"), rec(folder, "3.12", "25.0", "broke")]
    changes, unmatched = compare(base, candidate)
    assert [(c.base, c.candidate, c.kind) for c in changes] == [("broke", "leaked", "fix")]
    assert unmatched == []


def test_reports_show_which_frontend_holds_where_pip_does_not(folder: RunFolder, records: list[CellRecord]) -> None:
    records = [
        *records,
        rec(folder, "3.11", "23.0.1", "held", frontend="build"),
        rec(folder, "3.11", "25.0", "broke", frontend="build"),
        rec(folder, "3.11", "25.0", "held", frontend="uv"),
        rec(folder, "3.12", "25.0", "held", frontend="uv"),  # pip held there: not counted
    ]
    assert compare_frontends(records) == [("metapath", "build", 2, 1), ("metapath", "uv", 1, 1)]
    assert "  metapath: build held in 1 of 2\n  metapath: uv held in 1 of 1" in verdict_table(records)
    assert "| metapath | uv | 1 | 1 |" in markdown(records)


# -- pip's modes and the frontends' releases as axes (issue 16) ------------------------------------
# metapath: pip's default broke or leaked; venv-isolation (pip 26.3 only) held; build==1.4.2 leaked,
# 1.4.3 broke, 1.4.4 held; an unpinned build installed 1.6.1. Modes and releases that do not apply to
# a pip column are not-applicable there, as the matrix records them. vcs-target: pip alone.
VARIANT_CELLS: list[dict[str, Any]] = [
    {"python": "3.11", "pip": "25.0", "verdict": "broke"},
    {"python": "3.11", "pip": "26.3", "verdict": "leaked"},
    {"python": "3.12", "pip": "25.0", "verdict": "leaked"},
    {"python": "3.12", "pip": "26.3", "verdict": "held", "expected": "leaked"},
    *({"python": py, "pip": "25.0", "mode": m, "verdict": "not-applicable"} for py in ("3.11", "3.12") for m in MODES),
    {"python": "3.11", "pip": "26.3", "mode": "venv-isolation", "verdict": "held"},
    {"python": "3.12", "pip": "26.3", "mode": "venv-isolation", "verdict": "held"},
    {"python": "3.11", "pip": "26.3", "mode": "inprocess-build-deps", "verdict": "not-applicable"},
    {"python": "3.11", "pip": "26.3", "frontend": "build", "release": "1.4.2", "verdict": "leaked"},
    {"python": "3.11", "pip": "26.3", "frontend": "build", "release": "1.4.3", "verdict": "broke"},
    {"python": "3.11", "pip": "26.3", "frontend": "build", "release": "1.4.4", "verdict": "held"},
    {"python": "3.12", "pip": "26.3", "frontend": "build", "release": "1.4.4", "verdict": "not-applicable"},
    *(
        {"python": "3.11", "pip": "25.0", "frontend": "build", "release": r, "verdict": "not-applicable"}
        for r in BUILDS
    ),
    {"python": "3.11", "pip": "26.3", "frontend": "build", "version": "1.6.1", "verdict": "held"},
    {"python": "3.11", "pip": "25.0", "frontend": "build", "verdict": "not-applicable"},
    {"scenario_name": "vcs-target", "python": "3.11", "pip": "26.3", "verdict": "held"},
]


@pytest.fixture
def variants(tmp_path: Path) -> list[CellRecord]:
    return run_folder(tmp_path / "variants", VARIANT_CELLS)[1]


def _block(table: str, scenario: str) -> list[str]:
    return next(b for b in table.split("\n\n") if b.startswith(scenario + "\n")).splitlines()


def test_one_table_per_scenario_with_a_column_per_variant_that_ran(variants: list[CellRecord]) -> None:
    table = verdict_table(variants)
    assert [b.splitlines()[0] for b in table.split("\n\n")[:-1]] == ["metapath", "vcs-target"]
    _title, header, _rule, py311, py312, counts, unexpected = _block(table, "metapath")
    headings = ["pip 25.0", "pip 26.3", "pip 26.3 venv-isolation", "build 1.6.1", "build 1.4.2", "build 1.4.3"]
    assert header.split("  ")[0] == "python"
    assert [h.strip() for h in header.split("  ")[1:] if h.strip()] == [*headings, "build 1.4.4"]
    # pip 25.0 has no mode and no build: those columns, all n/a, are left out; inprocess-build-deps
    # ran nowhere. build==1.4.4 ran for 3.11 and not for 3.12: its n/a stays.
    assert "inprocess" not in table
    assert "pip 25.0 venv-isolation" not in table
    assert py311.split() == ["3.11", "BROKE", "LEAKED", "held", "held", "LEAKED", "BROKE", "held"]
    assert py312.split() == ["3.12", "LEAKED", "held!", "held", "n/a"]
    assert py312.endswith("n/a")
    assert counts == "22 cells (11 not-applicable not shown), 1 unexpected"
    assert unexpected == "  ! metapath/py3.12/pip26.3/pip: held, expected leaked"
    text = markdown(variants)
    assert "\n## metapath\n" in text
    assert "| python | " + " | ".join([*headings, "build 1.4.4"]) + " |" in text
    assert "| 3.12 | 💧 leaked | ✅ held ❗ | ✅ held |  |  |  | · not-applicable |" in text


def test_compared_per_mode_and_release(variants: list[CellRecord]) -> None:
    # Of pip's failed cells (3.11 at 25.0 and 26.3, 3.12 at 25.0): the variants that ran there.
    assert compare_frontends(variants) == [
        ("metapath", "pip+venv-isolation", 1, 1),
        ("metapath", "build", 1, 1),
        ("metapath", "build==1.4.2", 1, 0),
        ("metapath", "build==1.4.3", 1, 0),
        ("metapath", "build==1.4.4", 1, 1),
    ]
    assert "  metapath: build==1.4.3 held in 0 of 1\n" in verdict_table(variants)
    assert "| metapath | pip+venv-isolation | 1 | 1 |" in markdown(variants)


def test_junit_and_html_name_cells_by_label(variants: list[CellRecord], tmp_path: Path) -> None:
    root = ET.fromstring(junit(variants).split("\n", 1)[1])
    suites = [s.get("name") for s in root.findall("testsuite")]
    assert suites[:4] == [
        "metapath[pip]",
        "metapath[pip+inprocess-build-deps]",
        "metapath[pip+venv-isolation]",
        "metapath[pip+inprocess-build-deps+venv-isolation]",
    ]
    names = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
    assert ("metapath.build==1.4.2", "py3.11-pip26.3") in names
    assert ("metapath.pip+venv-isolation", "py3.12-pip26.3") in names
    page = write_reports(variants, tmp_path, tmp_path / "reports")["report.html"].read_text()
    assert "<th>pip 26.3 venv-isolation</th>\n<th>build 1.6.1</th>" in page
    cell = "metapath/py3.11/pip26.3/build==1.4.2"
    anchor = "cell-metapath-py3-11-pip26-3-build--1-4-2"
    assert f"data-cell='{cell}' title='build==1.4.2: leaked (expected leaked)'><a href='#{anchor}'>" in page
    assert f"<details class='cell' id='{anchor}'>" in page
    assert page.count("<h2>metapath</h2>") == 1


def test_an_old_pip_venv_record_is_pip_in_venv_isolation(tmp_path: Path) -> None:
    _, (default, venv) = run_folder(
        tmp_path,
        [{"pip": "24.3.1", "verdict": "broke"}, {"pip": "24.3.1", "mode": "venv-isolation", "verdict": "held"}],
    )
    old = venv.to_json()
    for name in ("mode", "frontend_release", "frontend_version"):
        del old[name]
    old.update(frontend="pip-venv", cell="metapath/py3.11/pip24.3.1/pip-venv")
    read = CellRecord.from_json(old)
    assert (read.frontend, read.mode, read.label, read.cell) == (
        "pip",
        "venv-isolation",
        "pip+venv-isolation",
        "metapath/py3.11/pip24.3.1/pip+venv-isolation",
    )
    header = verdict_table([default, read]).splitlines()[1]
    assert header.split() == ["python", "pip", "24.3.1", "pip", "24.3.1", "venv-isolation"]
    assert compare_frontends([default, read]) == [("metapath", "pip+venv-isolation", 1, 1)]
    # compare matches it with a new venv-isolation cell, never with pip's default cell.
    changes, unmatched = compare([default, read], [default, dataclasses.replace(venv, verdict="leaked")])
    assert [(c.cell, c.base, c.candidate) for c in changes] == [
        ("metapath/py3.11/pip+venv-isolation", "held", "leaked")
    ]
    assert unmatched == []


# -- the run-folder joins, on synthetic run folders ------------------------------------------------
def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args], capture_output=True, text=True, env=env, check=False
    )


def two_runs(tmp_path: Path) -> tuple[RunFolder, RunFolder]:
    """An older and a newer run of two scenarios, one pip each: metapath broke -> leaked (a fix),
    vcs-target held -> broke (a regression)."""
    older, _ = run_folder(
        tmp_path / "older",
        [
            {"python": "3.11", "pip": "24.3.1", "verdict": "broke"},
            {"scenario_name": "vcs-target", "python": "3.11", "pip": "24.3.1", "verdict": "held"},
        ],
    )
    newer, _ = run_folder(
        tmp_path / "newer",
        [
            {"python": "3.11", "pip": "25.0", "verdict": "leaked"},
            {"scenario_name": "vcs-target", "python": "3.11", "pip": "24.2", "verdict": "broke"},
        ],
    )
    return older, newer


def test_compare_command_exits_1_on_a_regression(tmp_path: Path) -> None:
    older, newer = two_runs(tmp_path)
    proc = cli("compare", str(older.path), str(newer.path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Regressions: 1\n  vcs-target/py3.11/pip24.3.1/pip: held -> broke" in proc.stdout
    assert "Fixes: 1\n  metapath/py3.11/pip24.3.1/pip: broke -> leaked" in proc.stdout
    assert cli("compare", str(newer.path), str(newer.path)).returncode == 0


def test_report_command_writes_all_three(tmp_path: Path) -> None:
    older, _ = two_runs(tmp_path)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    proc = cli("report", str(older.path), "--out", str(tmp_path / "reports"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (tmp_path / "reports").iterdir()} == {"report.md", "junit.xml", "report.html"}
    text = summary.read_text()
    assert "## metapath\n" in text
    assert "| 3.11 | 💥 broke |" in text
    assert "| 3.11 | ✅ held |" in text


def test_html_page_shows_each_cell_with_its_logs(tmp_path: Path) -> None:
    folder, records = run_folder(
        tmp_path,
        [
            {"python": "3.11", "pip": "24.3.1", "verdict": "broke"},
            {"python": "3.12", "pip": "24.3.1", "verdict": "not-applicable"},
            {"python": "3.12", "pip": "25.0", "verdict": "held", "expected": "leaked"},
        ],
    )
    page = write_reports(records, folder.path, tmp_path / "reports")["report.html"].read_text()
    assert page.count("<td class='cell") == 3
    assert "<td class='cell verdict-held unexpected' data-cell='metapath/py3.12/pip25.0/pip'" in page
    assert f"isolation-harness repro {folder.path} metapath/py3.11/pip24.3.1/pip &gt; repro.sh" in page
    # Each run's log is read from the run folder (its path in the record is relative to it).
    broke = records[0].experiment
    assert broke is not None
    assert not Path(broke.log).is_absolute()
    assert html.escape((folder.path / broke.log).read_text()) in page
    assert "Backend was not loaded from backend-path &lt;&#x27;.&#x27;&gt; &amp; failed" in page
    assert page.count("<summary>experiment log</summary>") == 2  # the not-applicable cell has none


def test_merge_joins_shards_into_one_run_folder(tmp_path: Path) -> None:
    first, made_first = run_folder(tmp_path / "a", [{"python": "3.11", "verdict": "broke"}], run_id="shard-a")
    cells = [{"scenario_name": "vcs-target", "python": "3.12", "verdict": "held"}, {"python": "3.12"}]
    second, made_second = run_folder(tmp_path / "b", cells, run_id="shard-b")
    out = tmp_path / "merged"
    merged = merge([first.path, second.path], out)
    assert sorted(r.cell for r in merged) == sorted(r.cell for r in made_first + made_second)
    folder = RunFolder.existing(out)
    assert [r.to_json() for r in folder.records()] == [r.to_json() for r in sorted(merged, key=lambda r: r.cell)]
    for made in merged:  # logs and scenario copies came along: reports and repro work on the merged folder
        assert made.experiment is not None
        assert (out / made.experiment.log).is_file()
        assert folder.scenario_of(made).name == made.scenario
    assert json.loads((out / "merged.json").read_text())["cells"] == 3


def test_merge_refuses_overlapping_shards_a_used_folder_and_a_folder_without_records(tmp_path: Path) -> None:
    first, _ = run_folder(tmp_path / "a", [{"python": "3.11"}], run_id="shard-a")
    second, _ = run_folder(tmp_path / "b", [{"python": "3.11"}], run_id="shard-b")
    with pytest.raises(InputError, match="shards overlap"):
        merge([first.path, second.path], tmp_path / "merged")
    with pytest.raises(InputError, match="not empty"):
        merge([first.path], first.path)
    with pytest.raises(InputError, match=r"no results\.jsonl"):
        merge([first.path, tmp_path], tmp_path / "merged-2")


@pytest.fixture
def probe_wheelhouse(tmp_path: Path) -> Wheelhouse:
    house = Wheelhouse(tmp_path / "wheels")
    house.root.mkdir(parents=True, exist_ok=True)
    (house.root / "isolation_harness_probe-0.1.0-py3-none-any.whl").write_bytes(b"probe wheel bytes")
    return house


def test_repro_script_carries_the_cell(tmp_path: Path, probe_wheelhouse: Wheelhouse) -> None:
    folder, (made,) = run_folder(tmp_path, [{"python": "3.12", "pip": "24.3.1", "verdict": "broke"}])
    text = script(folder.path, made.cell, wheelhouse=probe_wheelhouse)
    assert text.startswith(f"#!/usr/bin/env bash\n# Replays isolation-harness cell {made.cell}\n")
    assert f"# recorded: broke (expected broke), run {RUN_ID}," in text
    assert f"# engine docker, Python 3.12.9, pip 24.3.1 (sha256 {made.pip.sha256})" in text
    assert "EXPECTED=broke\nIMAGE=isolation-harness/python:3.12\n" in text
    assert '-d "$WORK/wheels" pip==24.3.1 flit-core==3.12.0\n' in text
    assert base64.encodebytes(b"probe wheel bytes").decode().strip() in text
    spec_text = text.split("cat > \"$WORK/harness/spec.json\" <<'IH_EOF'\n", 1)[1].split("\nIH_EOF\n", 1)[0]
    spec = json.loads(spec_text)
    assert spec["spec_version"] == SPEC_VERSION
    assert spec["pip_wheel"] == "pip-24.3.1-py3-none-any.whl"
    assert spec["frontend"] == "pip"
    assert {"leading_installs", "wheelhouse_hidden"} <= spec.keys()
    assert text.endswith('exit "$status"\n')


def test_repro_refuses_what_it_cannot_replay(tmp_path: Path, probe_wheelhouse: Wheelhouse) -> None:
    cells = [{"python": "3.12", "verdict": "not-applicable"}, {"python": "3.11", "verdict": "broke"}]
    folder, (skipped, made) = run_folder(tmp_path, cells)
    with pytest.raises(InputError, match="not-applicable cells did not run"):
        script(folder.path, skipped.cell, wheelhouse=probe_wheelhouse)
    with pytest.raises(InputError, match=r"no cell 'metapath/py3\.9/pip1/pip'"):
        script(folder.path, "metapath/py3.9/pip1/pip", wheelhouse=probe_wheelhouse)
    copy = folder.path / "scenarios" / "metapath.yaml"
    copy.write_text(copy.read_text() + "\n# changed after the run\n")
    with pytest.raises(InputError, match="sha256 mismatch"):
        script(folder.path, made.cell, wheelhouse=probe_wheelhouse)
    with pytest.raises(InputError, match=r"no results\.jsonl"):
        script(tmp_path, made.cell, wheelhouse=probe_wheelhouse)
