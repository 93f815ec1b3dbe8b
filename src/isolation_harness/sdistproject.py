"""A project whose files are a released source distribution (``project: {from-sdist: NAME==VERSION}``):
a real backend's own source, such as setuptools building itself through backend-path (pip #11812).

The sdist is fetched into the wheel directory like every other input (its sha256 is recorded) and
unpacked here, on the host, before any cell: from then on the project is like any other, so the probe
joins its build requirements the same way and the driver writes its files the same way (binary ones
base64-encoded, as diagnose sends a real project).
"""

from __future__ import annotations

import base64
import dataclasses
import tarfile
import tempfile
import threading
import zipfile
from pathlib import Path

from isolation_harness.errors import InputError
from isolation_harness.scenario import Scenario
from isolation_harness.wheelhouse import Wheelhouse

MAX_BYTES = 40_000_000

_CACHE: dict[Path, tuple[dict[str, str], dict[str, str]]] = {}
_LOCK = threading.Lock()


def materialize(scenario: Scenario, wheelhouse: Wheelhouse) -> Scenario:
    """The scenario with its project's files filled from its sdist (unchanged without one); inline
    files of the scenario replace the sdist's."""
    project = scenario.project
    if project.from_sdist is None:
        return scenario
    (archive,) = [p for p in wheelhouse.sdists([project.from_sdist]) if p.name.endswith((".tar.gz", ".zip"))]
    files, binary = unpacked(archive)
    files.update(project.file_map)
    if "pyproject.toml" not in files and "setup.py" not in files:
        raise InputError(f"{scenario.source}: {project.from_sdist}'s sdist has neither pyproject.toml nor setup.py")
    filled = dataclasses.replace(
        project, files=tuple(sorted(files.items())), binary_files=tuple(sorted(binary.items()))
    )
    return dataclasses.replace(scenario, project=filled)


def unpacked(archive: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The files of an sdist without its top folder: UTF-8 text as it is, the rest base64-encoded."""
    with _LOCK:
        if archive not in _CACHE:
            _CACHE[archive] = _read(archive)
        files, binary = _CACHE[archive]
    return dict(files), dict(binary)


def _read(archive: Path) -> tuple[dict[str, str], dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="ih-sdist-") as tmp:
        where = Path(tmp)
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(where)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(where, filter="data")
        tops = list(where.iterdir())
        root = tops[0] if len(tops) == 1 and tops[0].is_dir() else where
        return read_tree(root, what=archive.name)


def read_tree(root: Path, *, what: str) -> tuple[dict[str, str], dict[str, str]]:
    """Every file under ``root`` but .git: UTF-8 text as it is, anything else base64-encoded."""
    files: dict[str, str] = {}
    binary: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or ".git" in path.relative_to(root).parts:
            continue
        data = path.read_bytes()
        total += len(data)
        rel = path.relative_to(root).as_posix()
        try:
            files[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            binary[rel] = base64.b64encode(data).decode("ascii")
    if total > MAX_BYTES:
        raise InputError(f"{what}: its files are {total} bytes, more than {MAX_BYTES}; choose a smaller project")
    return files, binary
