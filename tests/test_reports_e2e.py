"""What only real cells (local engine) or a real browser can show: a repro script and a replay of real
cells give their recorded verdicts, and the HTML page renders its colours in real Chromium.

The reports, compare and merge read nothing but a run folder: test_reports.py and
test_reports_unchanged.py test them on synthetic records.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from isolation_harness import runner
from isolation_harness.engines.docker import daemon_answers
from isolation_harness.engines.local import LocalEngine
from isolation_harness.matrix import Matrix
from isolation_harness.report import COLOUR, write_reports
from isolation_harness.runner import RunRequest, RunResult
from isolation_harness.scenario import load_scenario
from isolation_harness.wheelhouse import Wheelhouse

from .conftest import ROOT, SCENARIOS, require_engine
from .records_synthetic import run_folder

pytestmark = pytest.mark.engine
PY = "3.11"
EVERY_VERDICT = ("held", "leaked", "broke", "unsupported", "not-applicable", "timeout", "error", "flaky")


@pytest.fixture(scope="module")
def real_run(matrix: Matrix, wheelhouse: Wheelhouse, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """Two real cells: metapath broke, vcs-target held (pip 24.3.1)."""
    scenarios = [load_scenario(SCENARIOS / f"{name}.yaml") for name in ("metapath", "vcs-target")]
    request = RunRequest(
        scenarios,
        matrix,
        LocalEngine(),
        wheelhouse,
        tmp_path_factory.mktemp("runs"),
        pythons=[PY],
        pips=["24.3.1"],
        frontends=["pip"],
        modes=["default"],
        jobs=2,
    )
    result = runner.run(request)
    assert {r.cell: r.verdict for r in result.records} == {
        "metapath/py3.11/pip24.3.1/pip": "broke",
        "vcs-target/py3.11/pip24.3.1/pip": "held",
    }
    return result


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


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


def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    require_engine("chromium", chromium is not None)
    assert chromium is not None
    # A cell of every verdict (synthetic records: the page is a function of the run folder).
    places = itertools.product(("3.11", "3.12"), ("23.0.1", "24.3.1", "25.0", "26.3"))
    cells = [{"python": py, "pip": pip, "verdict": v} for (py, pip), v in zip(places, EVERY_VERDICT, strict=True)]
    # and columns of other variants: a pip mode, a pinned build release
    cells += [
        {"python": "3.12", "pip": "26.3", "mode": "venv-isolation", "verdict": "held"},
        {"python": "3.11", "pip": "26.3", "frontend": "build", "release": "1.4.2", "verdict": "leaked"},
    ]
    folder, records = run_folder(tmp_path / "run", cells)
    written = write_reports(records, folder.path, tmp_path)
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
    assert len(parser.cells) == len(records)
    by_cell = {c["data-cell"]: c for c in parser.cells}
    assert {r.verdict for r in records} == set(EVERY_VERDICT)
    for record in records:
        cell = by_cell[record.cell]
        assert f"verdict-{record.verdict}" in (cell["class"] or "").split()
        assert cell["data-rendered-colour"] == _rgb(COLOUR[record.verdict])
    shot = tmp_path / "report.png"  # never into the repository
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,800", url],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.stat().st_size > 1000


@pytest.mark.parametrize("engine", ["local", "docker"])
def test_repro_script_of_a_broke_cell_gives_the_same_failure(real_run: RunResult, engine: str, tmp_path: Path) -> None:
    if engine == "docker":
        require_engine("docker", daemon_answers())
    record = next(r for r in real_run.records if r.verdict == "broke")
    assert record.experiment is not None
    proc = cli("repro", str(real_run.run_dir), record.cell)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "repro.sh"
    script.write_text(proc.stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["REPRO_ENGINE"] = engine if engine == "local" else "auto"
    out = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"error: {record.experiment.facts.error}" in out.stdout
    assert "verdict: broke" in out.stdout
    assert "same verdict as recorded: broke" in out.stdout


def test_replay_reports_zero_differences(real_run: RunResult, tmp_path: Path) -> None:
    proc = cli("replay", str(real_run.run_dir), "--engine", "local", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "replayed 2 cells" in proc.stdout
    assert "0 with a different verdict" in proc.stdout
    replayed = next(tmp_path.glob("replay-*/results.jsonl"))
    verdicts = {json.loads(line)["cell"]: json.loads(line)["verdict"] for line in replayed.read_text().splitlines()}
    assert verdicts == {r.cell: r.verdict for r in real_run.records}
