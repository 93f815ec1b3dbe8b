from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from isolation_harness.engines import EngineInfo
from isolation_harness.evidence import RunFacts
from isolation_harness.frontends import parse_label
from isolation_harness.matrix import Matrix, load_matrix
from isolation_harness.record import CellRecord, PipUsed, Ran, RunRecord
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.wheelhouse import Artifact, Wheelhouse, default_location

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def pytest_configure(config: pytest.Config) -> None:
    """Tests never reuse a result measured outside them: every test (and each command it runs) gets a
    result cache of its own (the autouse fixture below), and whatever runs outside a test gets one of
    this session's."""
    import tempfile

    from isolation_harness.cellcache import ENV

    os.environ[ENV] = tempfile.mkdtemp(prefix="ih-test-cells-")


@pytest.fixture(autouse=True)
def _own_cell_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from isolation_harness.cellcache import ENV

    monkeypatch.setenv(ENV, str(tmp_path_factory.mktemp("cell-cache")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Engine tests run by default; in CI (CI=true) one that skips fails instead: a skipped real cell
    would let a green run hide that nothing ran."""
    report = yield
    if os.environ.get("CI") == "true" and item.get_closest_marker("engine") and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every engine test must run: {report.longrepr}"
    return report


class FakeFacts:
    """What planning reads of the wheel directory, answered as the real releases would: each pip's
    Requires-Python (from ``requires``) and its --use-feature list, and the frontends' releases'
    Requires-Python (build from 1.3 needs 3.9)."""

    def __init__(self, requires: Callable[[str], SpecifierSet] | None = None) -> None:
        self._requires = requires or (lambda pip: SpecifierSet(">=3.9" if Version(pip) >= Version("25.1") else ">=3.8"))

    def requires_python(self, version: str) -> SpecifierSet:
        return self._requires(version)

    def pip_features(self, version: str) -> frozenset[str]:
        pip = Version(version)
        return frozenset(
            {"fast-deps"}
            | ({"inprocess-build-deps"} if pip >= Version("26.0") else set())
            | ({"venv-isolation"} if pip >= Version("26.2") else set())
        )

    def release_requires_python(self, requirement: str) -> SpecifierSet:
        name, _, release = requirement.partition("==")
        if name == "build" and release and Version(release) >= Version("1.3"):
            return SpecifierSet(">=3.9")
        return SpecifierSet(">=3.8")


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    return load_matrix(ROOT / "matrix.yaml")


@pytest.fixture(scope="session")
def wheelhouse() -> Wheelhouse:
    """The real wheel directory (shared with the CLI's default), filled from PyPI on first use."""
    return Wheelhouse(Path(os.environ.get("ISOLATION_HARNESS_WHEELHOUSE") or default_location()))


@pytest.fixture(scope="session")
def golden_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The golden cells (tests/golden_records.RUNS), run once per session through the command line a
    user runs: the golden-record test compares them, the catalogue's end-to-end tests read them."""
    from isolation_harness.engines.docker import daemon_answers

    from . import golden_records

    require_engine("docker", daemon_answers())
    out = tmp_path_factory.mktemp("golden")
    scenarios = [arg for name in golden_records.SCENARIOS for arg in ("--scenario", name)]
    folders = {}
    for group, engine, narrowing in golden_records.RUNS:
        argv = [sys.executable, "-m", "isolation_harness", "run", *scenarios, "--engine", engine, *narrowing]
        argv += ["--jobs", "2", "--out", str(out / group)]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        (folders[group],) = (out / group).iterdir()
    return folders


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a scenario YAML text to ``<tmp>/scenarios/<name>.yaml``."""

    def write(name: str, text: str) -> Path:
        folder = tmp_path / "scenarios"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def metapath() -> Scenario:
    return load_scenario(SCENARIOS / "metapath.yaml")


def copy_repo_inputs(dest: Path, *, frontends: str = "[pip]", modes: str = "[default]") -> None:
    """The repository's scenarios and matrix; the run machinery's tests keep to pip's frontend in its
    default mode (the frontends and modes axes have tests of their own), so their cell counts stay
    what they assert."""
    shutil.copytree(SCENARIOS, dest / "scenarios")
    text = (ROOT / "matrix.yaml").read_text()
    text = re.sub(r"(?m)^frontends: .*$", f"frontends: {frontends}", text)
    (dest / "matrix.yaml").write_text(re.sub(r"(?m)^modes: .*$", f"modes: {modes}", text))


def require_engine(name: str, available: bool) -> None:
    """Skip when an engine is missing on a developer's machine; fail in CI, where it must run."""
    if available:
        return
    message = f"the {name} engine is not reachable"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires its tests to run (.ci/run starts it)")
    pytest.skip(message)


HANG_BACKEND = """\
import time


def get_requires_for_build_wheel(config_settings=None):
    time.sleep(3600)
    return []
"""


def hang_scenario(tmp_path: Path, *, timeout: int) -> Scenario:
    """A backend that hangs in its first hook: the run must be killed at its limit."""
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    text = f"""\
name: hang
summary: "a backend that never returns"
references: [https://peps.python.org/pep-0517/]
project:
  name: hang
  offer: path
  files:
    pyproject.toml: |
      [build-system]
      requires = []
      backend-path = ["."]
      build-backend = "hang_backend"
    hang_backend.py: |
{"".join("      " + line + chr(10) if line else chr(10) for line in HANG_BACKEND.splitlines())}
action: {{frontend: pip, args: [install, --target, "{{target}}", "{{project_url}}"]}}
timeout: {timeout}
expect:
  - verdict: timeout
"""
    path = folder / "hang.yaml"
    path.write_text(text)
    return load_scenario(path)


def harness(args: str | list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would; a string is split on whitespace ("run --scenario metapath ...")."""
    argv = args.split() if isinstance(args, str) else args
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def pip_sdist(version: str, dest: Path) -> Path:
    """pip's sdist of ``version``, unpacked into ``dest``; returns the source folder."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"pip=={version}",
            "-d",
            str(dest),
        ],
        check=True,
        capture_output=True,
    )
    with tarfile.open(dest / f"pip-{version}.tar.gz") as tar:
        tar.extractall(dest / f"unpacked-{version}", filter="data")
    return dest / f"unpacked-{version}" / f"pip-{version}"


def cell_record(cell: str = "s/py3.11/pip24.0/pip", **changes: Any) -> CellRecord:
    """A whole record of a cell that ran, as the runner makes it, for tests of what reads records;
    ``changes`` replace any of its fields (``verdict="broke"``, ``match=False`` ...)."""
    scenario, python, pip, label = cell.split("/")
    frontend, release, mode = parse_label(label)
    slug = cell.replace("/", "__")

    def run(name: str) -> RunRecord:
        facts = RunFacts(exit_code=0, timed_out=False, duration=1.25, error=None, hook_processes=2)
        return RunRecord(facts, f"cells/{slug}/{name}/output.log", f"cells/{slug}/{name}/probe")

    wheel = f"pip-{pip.removeprefix('pip')}-py3-none-any.whl"
    record = CellRecord(
        run_id="20250101T000000Z-s-abcdef",
        cell=cell,
        scenario=scenario,
        scenario_sha256="0" * 64,
        project_sha256="1" * 64,
        python=python.removeprefix("py"),
        python_exact=python.removeprefix("py") + ".7",
        pip=PipUsed(pip.removeprefix("pip"), "pypi", wheel, "2" * 64),
        frontend=frontend,
        engine=EngineInfo(name="local", isolation="process", notes=("no container",)),
        expected="held",
        artifacts=(Artifact(wheel, "2" * 64),),
        not_applicable=None,
        verdict="held",
        match=True,
        reasons=("no influence of the host environment in either run",),
        control=run("control"),
        experiment=run("experiment"),
        started="2025-01-01T00:00:00+00:00",
        finished="2025-01-01T00:00:05+00:00",
        duration=5.0,
        ran=Ran("pip 24.0 from /cell/venv (python 3.11)", "git version 2.39.5", f"cells/{slug}/driver.log"),
        harness_version="0.1.0",
        mode=mode,
        frontend_release=release,
        frontend_version=release or (pip.removeprefix("pip") if frontend == "pip" else None),
    )
    return dataclasses.replace(record, **changes)


def run_cells(
    tmp_path: Path,
    scenario: str,
    python: str,
    *pips: str,
    modes: tuple[str, ...] = ("default",),
    extra: tuple[str, ...] = (),
) -> Path:
    """Run a scenario's pip cells on the docker engine from this checkout (every cell must come out as the
    scenario expects: exit 0) and return the run folder."""
    from isolation_harness.engines.docker import daemon_answers

    require_engine("docker", daemon_answers())
    args = [sys.executable, "-m", "isolation_harness", "run", "--scenario", scenario, "--engine", "docker"]
    args += ["--python", python, "--frontend", "pip", "--out", str(tmp_path)]
    args += [arg for mode in modes for arg in ("--mode", mode)]
    args += [arg for pip in pips for arg in ("--pip", pip)]
    args += list(extra)
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # every cell as the scenario expects
    (folder,) = tmp_path.iterdir()
    return folder
