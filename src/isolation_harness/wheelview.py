"""What one Python sees of the wheel directory: the wheels whose Requires-Python admits it."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Collection
from email.parser import Parser
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version


def read_requires_python(wheel: Path) -> str:
    """The Requires-Python of a wheel's METADATA ('' when it has none); fails on a broken wheel."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(name).decode("utf-8"))
    return meta.get("Requires-Python") or ""


class WheelView:
    """The per-Python view of a folder of wheels, reading each wheel's Requires-Python once."""

    def __init__(self, root: Path, lock: threading.Lock) -> None:
        self._root = root
        self._lock = lock  # the wheel store's: see wheelstore.py
        self._requires: dict[str, str] = {}
        # The answers, per (python, keep) and state of the folder (a file added or removed changes
        # its mtime and its count): planning asks once per cell, 37,081 times for the catalogue.
        self._hidden: dict[tuple[str, frozenset[str], int, int], list[str]] = {}

    def requires_python(self, wheel: Path) -> SpecifierSet:
        """The Pythons a wheel (a pip release's) installs on; fails on a broken wheel or specifier."""
        return SpecifierSet(read_requires_python(wheel))

    def hidden_from(self, python: str, keep: Collection[str] = ()) -> list[str]:
        """The wheels whose Requires-Python excludes ``python``, and the sdists not in ``keep``.

        An index page tells pip a file's Requires-Python (data-requires-python) before it picks it; a
        flat wheel directory cannot, and pip before 20.3 would then take a newer release that refuses
        the interpreter ("requires a different Python") where PyPI would have served an older one. The
        driver shows each cell a view of the directory without these files, as the index would.
        """
        # Only the sdists of ``keep`` matter (cells pass every file they use, their pip's wheel too).
        sdists = frozenset(name for name in keep if _is_sdist(name))
        state = (python, sdists, self._root.stat().st_mtime_ns, sum(1 for _ in self._root.iterdir()))
        with self._lock:
            if state in self._hidden:
                return list(self._hidden[state])
        version = Version(f"{python}.99")
        # A source distribution is a candidate for pip too, and one fetched for another scenario (a
        # project's own source, a diagnosed project) would be built offline where a wheel was wanted:
        # a cell sees only the sdists its scenario asked for (``keep``).
        hidden = [p.name for p in sorted(self._root.iterdir()) if _is_sdist(p.name) and p.name not in keep]
        for path in sorted(self._root.glob("*.whl")):
            spec = self._wheel_requires_python(path)
            if spec is not None and not spec.contains(version, prereleases=True):
                hidden.append(path.name)
        with self._lock:
            self._hidden[state] = sorted(hidden)
        return sorted(hidden)

    def _wheel_requires_python(self, path: Path) -> SpecifierSet | None:
        with self._lock:
            if path.name not in self._requires:
                try:
                    self._requires[path.name] = read_requires_python(path)
                except (OSError, StopIteration, zipfile.BadZipFile, UnicodeDecodeError):
                    self._requires[path.name] = ""
            text = self._requires[path.name]
        try:
            return SpecifierSet(text) if text else None
        except InvalidSpecifier:
            return None


def _is_sdist(name: str) -> bool:
    return name.endswith((".tar.gz", ".zip"))
