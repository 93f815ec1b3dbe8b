"""Reports, compare, repro and replay on real runs (local engine), and the HTML page in real Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from isolation_harness.engines.docker import daemon_answers
from isolation_harness.engines.local import LocalEngine
from isolation_harness.matrix import Matrix
from isolation_harness.report import COLOUR, write_reports
from isolation_harness.runner import RunOptions, RunResult, execute, new_run_id, prepare
from isolation_harness.scenario import load_scenario
from isolation_harness.wheelhouse import Wheelhouse

from .conftest import ROOT, SCENARIOS, require_engine

pytestmark = pytest.mark.engine
PY = "3.11"


def two_scenarios(pips: dict[str, str], matrix: Matrix, wheelhouse: Wheelhouse, out: Path) -> RunResult:
    scenarios = [load_scenario(SCENARIOS / f"{name}.yaml") for name in sorted(pips)]
    engine = LocalEngine()
    cells = []
    for scenario in scenarios:
        options = RunOptions(pythons=[PY], pips=[pips[scenario.name]], frontends=["pip"], out=out)
        cells += prepare([scenario], matrix, engine, wheelhouse, options)
    return execute(
        cells, engine=engine, wheelhouse=wheelhouse, options=RunOptions(jobs=2, out=out), run_id=new_run_id(scenarios)
    )


@pytest.fixture(scope="module")
def runs(
    matrix: Matrix, wheelhouse: Wheelhouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunResult, RunResult]:
    out = tmp_path_factory.mktemp("runs")
    older = two_scenarios({"metapath": "24.3.1", "vcs-target": "24.3.1"}, matrix, wheelhouse, out)
    newer = two_scenarios({"metapath": "25.0", "vcs-target": "24.2"}, matrix, wheelhouse, out)
    return older, newer


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_compare_reports_regressions_and_fixes(runs: tuple[RunResult, RunResult]) -> None:
    older, newer = runs
    assert {r["cell"]: r["verdict"] for r in older.records} == {
        "metapath/py3.11/pip24.3.1/pip": "broke",
        "vcs-target/py3.11/pip24.3.1/pip": "held",
    }
    proc = cli("compare", str(older.run_dir), str(newer.run_dir))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Regressions: 1\n  vcs-target/py3.11/pip24.3.1/pip: held -> broke" in proc.stdout
    assert "Fixes: 1\n  metapath/py3.11/pip24.3.1/pip: broke -> leaked" in proc.stdout
    assert cli("compare", str(newer.run_dir), str(newer.run_dir)).returncode == 0


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.rendered = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "td" and "cell" in (found.get("class") or "").split():
            self.cells.append(found)
        if tag == "body" and found.get("data-rendered") == "yes":
            self.rendered = True


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_html_report_renders_in_chromium(runs: tuple[RunResult, RunResult], tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    require_engine("chromium", chromium is not None)
    assert chromium is not None
    newer = runs[1]
    written = write_reports(newer.records, newer.run_dir, tmp_path)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = written["report.html"].as_uri()
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False
    )
    parser = _Cells()
    parser.feed(dom.stdout)
    assert parser.rendered, "the page's script did not run in the browser"
    assert len(parser.cells) == len(newer.records)
    by_cell = {c["data-cell"]: c for c in parser.cells}
    for record in newer.records:
        cell = by_cell[record["cell"]]
        assert f"verdict-{record['verdict']}" in (cell["class"] or "").split()
        assert cell["data-rendered-colour"] == _rgb(COLOUR[record["verdict"]])
    shot = tmp_path / "report.png"  # never into the repository
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,800", url],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.stat().st_size > 1000


@pytest.mark.parametrize("engine", ["local", "docker"])
def test_repro_script_of_a_broke_cell_gives_the_same_failure(
    runs: tuple[RunResult, RunResult], engine: str, tmp_path: Path
) -> None:
    if engine == "docker":
        require_engine("docker", daemon_answers())
    newer = runs[1]
    record = next(r for r in newer.records if r["verdict"] == "broke")
    proc = cli("repro", str(newer.run_dir), record["cell"])
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "repro.sh"
    script.write_text(proc.stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["REPRO_ENGINE"] = engine if engine == "local" else "auto"
    out = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"error: {record['experiment']['error']}" in out.stdout
    assert "verdict: broke" in out.stdout
    assert "same verdict as recorded: broke" in out.stdout


def test_replay_reports_zero_differences(runs: tuple[RunResult, RunResult], tmp_path: Path) -> None:
    older = runs[0]
    proc = cli("replay", str(older.run_dir), "--engine", "local", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "replayed 2 cells" in proc.stdout
    assert "0 with a different verdict" in proc.stdout
    replayed = next(tmp_path.glob("replay-*/results.jsonl"))
    verdicts = {json.loads(line)["cell"]: json.loads(line)["verdict"] for line in replayed.read_text().splitlines()}
    assert verdicts == {r["cell"]: r["verdict"] for r in older.records}


def test_report_command_writes_all_three(runs: tuple[RunResult, RunResult], tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run(
        [sys.executable, "-m", "isolation_harness", "report", str(runs[0].run_dir), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in tmp_path.iterdir()} >= {"report.md", "junit.xml", "report.html", "summary.md"}
    text = summary.read_text()
    assert "## metapath (pip)" in text
    assert "| 3.11 | 💥 broke |" in text
    assert "| 3.11 | ✅ held |" in text
