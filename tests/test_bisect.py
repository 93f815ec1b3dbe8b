"""Bisection, pip candidates and pyproject-hooks overlays."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from isolation_harness.bisect import bisect, pip_releases
from isolation_harness.errors import InputError
from isolation_harness.runfolder import RunFolder

from .conftest import ROOT, pip_sdist

PY = "3.11"


@pytest.mark.parametrize("size", [2, 3, 8, 70])
def test_bisect_agrees_with_a_linear_scan(size: int) -> None:
    items = [f"v{i}" for i in range(size)]
    for change in range(1, size):

        def verdict_of(item: str, change: int = change) -> str:
            return "broke" if items.index(item) < change else "leaked"

        result = bisect(items, verdict_of)
        linear = next(i for i in items if verdict_of(i) != verdict_of(items[0]))
        assert result.first_changed == linear == items[change]
        assert len(result.probes) <= 2 + math.ceil(math.log2(size))


def test_bisect_refuses_equal_ends() -> None:
    with pytest.raises(InputError, match="the verdict is held at both v0 and v1: nothing to bisect"):
        bisect(["v0", "v1"], lambda item: "held")


def test_a_frontends_releases_are_listed_the_same_way() -> None:
    available = ["1.6.1", "1.5.0", "1.4.4", "1.4.3", "1.4.2", "1.4.1", "1.4.0", "1.3.0", "1.2.2.post1", "1.2.2"]
    assert pip_releases("1.4.2", "1.4.4", available=available, dist="build") == ["1.4.2", "1.4.3", "1.4.4"]
    with pytest.raises(InputError, match=r"build 1\.4\.9 is not a release on the index; .*pip index versions build"):
        pip_releases("1.4.2", "1.4.9", available=available, dist="build")


def test_release_list_is_final_releases_between_the_ends() -> None:
    available = ["25.0.1", "25.0", "25.0b1", "24.3.1", "24.3", "24.2", "23.0"]
    assert pip_releases("24.2", "25.0", available=available) == ["24.2", "24.3", "24.3.1", "25.0"]
    with pytest.raises(InputError, match=r"pip 24\.4 is not a release"):
        pip_releases("24.2", "24.4", available=available)
    with pytest.raises(InputError, match="must be older"):
        pip_releases("25.0", "24.2", available=available)


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isolation_harness", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.engine
def test_bisect_metapath_matches_linear_scan(tmp_path: Path) -> None:
    releases = pip_releases("24.0", "25.0.1")
    args = ["run", "--scenario", "metapath", "--engine", "local", "--python", PY, "--frontend", "pip"]
    args += ["--mode", "default", "--out", str(tmp_path / "scan")]
    for pip in releases:
        args += ["--pip", pip]
    cli(*args)
    (scan_dir,) = (tmp_path / "scan").iterdir()
    scan = {r.pip.version: r.verdict for r in RunFolder(scan_dir).records()}
    first = next(p for p in releases if scan[p] != scan[releases[0]])
    assert first == "25.0"  # pip 25.0 is the first release vendoring pyproject-hooks >= 1.1
    proc = cli(
        "bisect",
        "--scenario",
        "metapath",
        "--python",
        PY,
        "--good",
        "24.0",
        "--bad",
        "25.0.1",
        "--engine",
        "local",
        "--out",
        str(tmp_path / "bisect"),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"first pip release with a different verdict: {first} (24.3.1: broke, 25.0: leaked)" in proc.stdout
    (bisect_dir,) = (tmp_path / "bisect").iterdir()
    probed = RunFolder(bisect_dir).records()
    assert len(probed) <= 2 + math.ceil(math.log2(len(releases))) < len(releases)
    assert all(scan[r.pip.version] == r.verdict for r in probed)  # the evidence agrees cell by cell


@pytest.mark.engine
def test_pyproject_hooks_overlay_changes_an_older_pips_verdict(tmp_path: Path) -> None:
    proc = cli(
        "run",
        "--scenario",
        "metapath",
        "--engine",
        "local",
        "--python",
        PY,
        "--pip",
        "24.3.1",
        "--pyproject-hooks",
        "1.1.0",
        "--frontend",
        "pip",
        "--mode",
        "default",
        "--out",
        str(tmp_path),
    )
    (run_dir,) = tmp_path.iterdir()
    (record,) = RunFolder(run_dir).records()
    assert record.pip.version == "24.3.1+hooks1.1.0"
    assert isinstance(record.pip.source, dict), record.pip.source
    overlay = record.pip.source["overlay"]
    assert (overlay["pyproject_hooks"], overlay["replaced"]) == ("1.1.0", "1.0.0")
    assert len(overlay["sha256"]) == 64
    assert record.verdict == "leaked"  # plain pip 24.3.1 is `broke`: see test_e2e_local
    assert record.experiment is not None
    assert record.experiment.facts.backend_in_backend_path is True
    assert proc.returncode == 1  # unexpected for a 24.3.1 label, and the run says so
    proc = cli(
        "run",
        "--scenario",
        "metapath",
        "--engine",
        "local",
        "--python",
        PY,
        "--pip",
        "22.3.1",
        "--pyproject-hooks",
        "1.1.0",
        "--frontend",
        "pip",
        "--mode",
        "default",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 2
    assert "pip 22.3.1 vendors pep517, not pyproject_hooks" in proc.stderr


@pytest.mark.engine
def test_validate_a_pip_built_from_a_local_git_checkout(tmp_path: Path) -> None:
    """A pip checkout made from a release's sdist (no clone at hand), through validate end to end."""
    checkout = pip_sdist("25.0", tmp_path)
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@invalid"]
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "pip 25.0 from its sdist"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    # The three pip #11812 scenarios whose verdict 25.0 changes (pyproject-hooks 1.2), and two it does not.
    fixed = ("metapath", "setuptools-editable-first", "meson-python-editable-self")
    scenarios = [arg for name in (*fixed, "vcs-target", "pth-exec") for arg in ("--scenario", name)]
    proc = cli(
        "validate",
        "--pip",
        str(checkout),
        "--python",
        PY,
        "--against",
        "24.3.1",
        *scenarios,
        "--engine",
        "local",
        "--out",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Regressions: 0" in proc.stdout
    fixes = proc.stdout.split("Fixes: ", 1)[1].split("Other changes:", 1)[0].splitlines()
    assert fixes[0] == "3"
    assert sorted(fixes[1:]) == [f"  {name}/py3.11/pip24.3.1/pip: broke -> leaked" for name in sorted(fixed)]
    (candidate_dir,) = (tmp_path / "out").glob("validate-candidate-*")
    records = RunFolder(candidate_dir).records()
    assert {r.pip.version for r in records} == {f"25.0+checkout.{head[:8]}"}
    source = records[0].pip.source
    assert isinstance(source, dict), source
    assert (source["kind"], source["commit"], source["origin"]) == ("checkout", head, str(checkout))
    assert len(records[0].pip.sha256 or "") == 64


def _sdist_tree(version: str, dest: Path, tmp: Path) -> None:
    """Replace ``dest``'s files (not .git) with pip's sdist of ``version``."""
    source = pip_sdist(version, tmp)
    for child in dest.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(source, dest, dirs_exist_ok=True)


@pytest.mark.engine
def test_bisect_over_commits_of_a_local_pip_clone(tmp_path: Path) -> None:
    """Three commits: pip 24.3.1's source, a harmless change, then pip 25.0's source."""
    repo = tmp_path / "pip"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commits = []
    for step, version in enumerate(["24.3.1", "24.3.1", "25.0"]):
        if step == 1:
            (repo / "NEWS.rst").write_text("a harmless change\n")
        else:
            _sdist_tree(version, repo, tmp_path)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", f"step {step}"], check=True)
        commits.append(
            subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
        )
    proc = cli(
        "bisect",
        "--scenario",
        "metapath",
        "--python",
        PY,
        "--pip-repo",
        str(repo),
        "--good",
        commits[0],
        "--bad",
        commits[2],
        "--engine",
        "local",
        "--out",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"first pip commit with a different verdict: {commits[2]}" in proc.stdout
    assert f"({commits[1]}: broke, {commits[2]}: leaked)" in proc.stdout
    assert "3 cells run for 3 commits" in proc.stdout


@pytest.mark.engine
def test_bisect_along_pypa_builds_releases_matches_a_linear_scan(tmp_path: Path) -> None:
    # build-pythonpath: build 1.4.2 and older keep PYTHONPATH in the build (leaked), 1.4.3 clears it
    # for the hooks but not for its pip (broke, pypa/build#1037), 1.4.4 holds.
    releases = pip_releases("1.2.2", "1.4.4", dist="build")
    args = ["run", "--scenario", "build-pythonpath", "--engine", "local", "--python", PY, "--pip", "26.3"]
    args += ["--out", str(tmp_path / "scan"), *(f"--frontend=build=={r}" for r in releases)]
    proc = cli(*args)
    assert proc.returncode in (0, 1), proc.stderr
    (scan_dir,) = (tmp_path / "scan").iterdir()
    scan = {str(r.frontend_version): r.verdict for r in RunFolder(scan_dir).records()}
    assert sorted(scan) == sorted(releases)
    first = next(r for r in releases if scan[r] != scan[releases[0]])
    assert (first, scan["1.2.2"], scan[first], scan["1.4.4"]) == ("1.4.3", "leaked", "broke", "held")
    proc = cli(
        *("bisect", "--scenario", "build-pythonpath", "--python", PY, "--frontend", "build"),
        *("--good", "1.2.2", "--bad", "1.4.4", "--engine", "local", "--out", str(tmp_path / "bisect")),
    )
    assert proc.returncode == 0, proc.stderr
    assert "first build release with a different verdict: 1.4.3 (1.4.2: leaked, 1.4.3: broke)" in proc.stdout
    (bisect_dir,) = (tmp_path / "bisect").iterdir()
    probed = RunFolder(bisect_dir).records()
    assert len(probed) <= 2 + math.ceil(math.log2(len(releases))) < len(releases)
    assert all(scan[r.frontend_version or ""] == r.verdict for r in probed)  # cell by cell
