"""The wheel directory: every artifact a cell installs, fetched once on the host and hashed.

Cells run with no index (``PIP_NO_INDEX=1``, ``PIP_FIND_LINKS``) against this folder, so a verdict
never depends on the network, and each record lists the sha256 of what it could install.

``Wheelhouse`` is the one object the rest of the harness holds; it composes the parts, each in its own
module: the folder, its hashes and index (wheelstore.py), the pips under test (pipreleases.py), what one
Python sees (wheelview.py), requirements resolved per Python (wheelresolve.py) and the probe wheel
(probewheel.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet

from isolation_harness.pipreleases import PipReleases, read_features
from isolation_harness.probewheel import PROBE_NAME, PROBE_PTH, probe_requirement, probe_wheel_bytes, probe_wheel_name
from isolation_harness.wheelresolve import sdists_for, wheels_for
from isolation_harness.wheelstore import Artifact, WheelStore, default_location, sha256_of
from isolation_harness.wheelview import WheelView

__all__ = [
    "PROBE_NAME",
    "PROBE_PTH",
    "Artifact",
    "Wheelhouse",
    "default_location",
    "probe_requirement",
    "sha256_of",
]


class Wheelhouse:
    """A content-addressed folder of wheels with a small index of what was resolved for what."""

    def __init__(self, root: Path) -> None:
        self._store = WheelStore(root)
        self.root = self._store.root
        self._pips = PipReleases(self._store)
        self._view = WheelView(self._store.root, self._store.lock)
        # Planning asks each pip's facts once per cell (the catalogue: tens of thousands of cells), and
        # each answer reads the wheel's zip directory: 4.4 s a scenario before these were kept. Keyed
        # on the file as it is (a candidate registered again under the same label is a new file).
        self._facts: dict[tuple[str, str, int, int], Any] = {}

    # -- pip releases ---------------------------------------------------------------------------
    def pip_wheel(self, version: str) -> Path:
        """The wheel of one pip release, downloaded on first use, or of a registered candidate."""
        return self._pips.pip_wheel(version)

    def hidden_from(self, python: str, keep: Collection[str] = ()) -> list[str]:
        """The wheels whose Requires-Python excludes ``python``, and the sdists not in ``keep`` (see
        wheelview.py)."""
        return self._view.hidden_from(python, keep)

    def requires_python(self, version: str) -> SpecifierSet:
        found: SpecifierSet = self._fact("requires-python", version, self._view.requires_python)
        return found

    def pip_features(self, version: str) -> frozenset[str]:
        """The ``--use-feature`` values this pip accepts, read from its wheel (pip's modes)."""
        found: frozenset[str] = self._fact("features", version, read_features)
        return found

    def _fact(self, kind: str, version: str, read: Callable[[Path], Any]) -> Any:
        wheel = self.pip_wheel(version)
        stat = wheel.stat()
        key = (kind, str(wheel), stat.st_mtime_ns, stat.st_size)
        if key not in self._facts:
            self._facts[key] = read(wheel)
        return self._facts[key]

    # -- frontends' releases --------------------------------------------------------------------
    def release_requires_python(self, requirement: str) -> SpecifierSet:
        """The Requires-Python of one release of a frontend (``build==1.4.2``), downloaded on first
        use: a release that does not exist fails here, before anything runs."""
        files = self._store.download(
            ["--no-deps", "--only-binary=:all:", "--ignore-requires-python", requirement],
            key=f"release:{requirement}",
            failure=f"--frontend {requirement}: no wheel of it could be downloaded from the index; "
            f"check the release exists (pip index versions {requirement.partition('==')[0]}) or fix matrix.yaml",
        )
        wheels = [self.root / f for f in files if f.endswith(".whl")]
        return self._view.requires_python(wheels[0]) if wheels else SpecifierSet()

    # -- build and host requirements ------------------------------------------------------------
    def requirements(self, requirements: Iterable[str], python: str) -> list[Path]:
        """Wheels for the requirements, resolved for the target Python (see wheelresolve.py)."""
        return wheels_for(self._store, requirements, python)

    def sdists(self, requirements: Iterable[str]) -> list[Path]:
        """Source distributions (no dependencies) for scenarios that build from source."""
        return sdists_for(self._store, requirements)

    # -- candidates built on the host --------------------------------------------------------------
    def register_pip(self, label: str, wheel: Path, *, source: dict[str, Any]) -> Path:
        """Keep a non-release pip wheel under its label, with where it came from."""
        return self._pips.register_pip(label, wheel, source=source)

    def provenance(self, label: str) -> dict[str, Any] | None:
        """Where a non-release pip came from (None for releases from the index)."""
        return self._pips.provenance(label)

    # -- files ----------------------------------------------------------------------------------
    def add_file(self, path: Path) -> Path:
        return self._store.add_file(path)

    def download(self, args: list[str], *, key: str, failure: str, python: Path | None = None) -> list[str]:
        """``pip download`` once per key; later calls return the files recorded the first time."""
        return self._store.download(args, key=key, failure=failure, python=python)

    def artifact(self, path: Path) -> Artifact:
        return self._store.artifact(path)

    # -- the probe ------------------------------------------------------------------------------
    def probe_wheel(self) -> Path:
        """Build the probe wheel (deterministic bytes) if it is not there yet."""
        return self._store.put(probe_wheel_name(), probe_wheel_bytes())
