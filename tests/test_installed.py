"""The harness as users get it: the wheel built with pypa/build, installed non-editable into a fresh venv,
run from an empty folder (no ./scenarios, no ./matrix.yaml, no containers/ beside it).

An editable install hides every file outside the package; this is the path the regression workflow's
shard and merge jobs and `pipx install` take, where the harness once crashed on its first docker cell
(images.py looked for containers/ beside the source tree).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from isolation_harness.engines.docker import daemon_answers
from tests.conftest import ROOT, require_engine

pytestmark = [pytest.mark.engine]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding the harness installed from its wheel."""
    tmp = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp / "dist").glob("isolation_harness-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("containers/Dockerfile.local", "containers/Dockerfile.slim", "scenarios/metapath.yaml", "matrix.yaml"):
        assert f"isolation_harness/_data/{data}" in names, f"the wheel lacks {data}"
    venv.create(tmp / "venv", with_pip=True)
    subprocess.run(
        [str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    return tmp / "venv" / "bin"


def _run(bin_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / "isolation-harness"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_installed_list_shows_the_bundled_catalogue(installed: Path, tmp_path: Path) -> None:
    proc = _run(installed, ["list"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert first.startswith("scenarios "), first
    assert first.endswith("(bundled):"), first
    assert "/site-packages/isolation_harness/_data/scenarios" in first
    assert any(line.strip().startswith("metapath: ") for line in rest)
    # A folder of one's own wins, and the run says so.
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "metapath.yaml").write_text((ROOT / "scenarios" / "metapath.yaml").read_text())
    proc = _run(installed, ["list"], tmp_path)
    assert proc.stdout.splitlines()[0] == f"scenarios {tmp_path / 'scenarios'} (./scenarios):"


@pytest.mark.parametrize(
    ("engine", "pip", "verdict"),
    [
        # pip 24.0 imports the backend through the host's editable finder: BackendInvalid (pip #11812).
        ("docker", "24.0", "broke"),
        # pip 25.0 loads it from backend-path first (pyproject-hooks 1.2), the host finder still there.
        ("local", "25.0", "leaked"),
    ],
)
def test_installed_harness_runs_a_cell_from_an_empty_folder(
    installed: Path, tmp_path: Path, engine: str, pip: str, verdict: str
) -> None:
    if engine == "docker":
        require_engine("docker", daemon_answers())
    args = ["run", "--scenario", "metapath", "--python", "3.11", "--pip", pip, "--frontend", "pip", "--mode", "default"]
    proc = _run(installed, [*args, "--engine", engine, "--out", str(tmp_path / "results")], tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = proc.stderr.splitlines()[0]
    assert first.startswith("isolation-harness: scenarios "), first
    assert "(bundled); matrix " in first, first
    assert first.endswith("_data/matrix.yaml (bundled)"), first
    (run_dir,) = (tmp_path / "results").iterdir()
    assert json.loads((run_dir / "plan.json").read_text())["sources"] == first.removeprefix("isolation-harness: ")
    (line,) = (run_dir / "results.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert (record["verdict"], record["match"], record["engine"]["name"]) == (verdict, True, engine)
    if engine == "docker":
        assert record["engine"]["base_packages"] == "pip==24.0 setuptools==79.0.1 wheel==0.45.1"
    # The run folder keeps the bundled scenario it used, for repro and replay.
    assert (run_dir / "scenarios" / "metapath.yaml").is_file()
    if engine == "docker":
        # Run again, nothing changed: the installed harness keys the cell the same way (its bundled
        # driver and probe sources included) and reuses it, judged again from the copied output.
        again = _run(installed, [*args, "--engine", engine, "--out", str(tmp_path / "again")], tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "cache: 1 cells reused from earlier runs" in again.stdout, again.stdout
        (line,) = next((tmp_path / "again").iterdir()).joinpath("results.jsonl").read_text().splitlines()
        reused = json.loads(line)
        assert (reused["verdict"], reused["cached_from"], reused["cache_key"]) == (
            verdict,
            run_dir.name,
            record["cache_key"],
        )
