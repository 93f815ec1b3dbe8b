"""The wheel directory's folder: its files, their sha256, atomic writes and the index of what was fetched.

The index (``.resolved/``) maps a key (``pip==24.3.1``, a requirement set for a Python) to the files
fetched for it, so each ``pip download`` runs once per key; an entry may also say where its files came
from (a pip built on the host, see pipreleases.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness.errors import InputError


def default_location() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "isolation-harness" / "wheels"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    file: str
    sha256: str


class WheelStore:
    """A content-addressed folder of wheels with a small index of what was resolved for what.

    ``lock`` guards the folder and the index; the other parts of the wheel directory (pipreleases.py,
    wheelview.py) share it, so one wheel directory has one writer at a time.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        # Container cells read it as an unprivileged user (a mkdtemp folder would be 0700).
        self.root.chmod(0o755)
        self._index_dir = self.root / ".resolved"
        self._index_dir.mkdir(exist_ok=True)
        self.lock = threading.Lock()
        self._hashes: dict[str, str] = {}

    # -- files ----------------------------------------------------------------------------------
    def put(self, name: str, data: bytes) -> Path:
        """Write ``data`` as the file ``name``, unless the folder already holds exactly these bytes."""
        dest = self.root / name
        with self.lock:
            if not dest.exists() or dest.read_bytes() != data:
                atomic_write_bytes(dest, data)
        return dest

    def add_file(self, path: Path) -> Path:
        return self.put(path.name, path.read_bytes())

    def artifact(self, path: Path) -> Artifact:
        with self.lock:
            digest = self._hashes.get(path.name)
            if digest is None:
                digest = self._hashes[path.name] = sha256_of(path)
        return Artifact(path.name, digest)

    # -- the index ------------------------------------------------------------------------------
    def entry(self, key: str) -> dict[str, Any] | None:
        """The index entry of ``key`` (``{"key", "files", ...}``), or None when there is none."""
        try:
            entry: dict[str, Any] = json.loads(self._index_file(key).read_text())
        except (OSError, ValueError):
            return None
        return entry

    def keep(self, name: str, data: bytes, *, key: str, source: dict[str, Any]) -> Path:
        """Write the file ``name`` and record it as the one file of ``key``, with where it came from."""
        dest = self.root / name
        with self.lock:
            atomic_write_bytes(dest, data)
            atomic_write(
                self._index_file(key), json.dumps({"key": key, "files": [dest.name], "source": source}, indent=1)
            )
        return dest

    def download(self, args: list[str], *, key: str, failure: str, python: Path | None = None) -> list[str]:
        """``pip download`` once per key; later calls return the files recorded the first time."""
        index_file = self._index_file(key)
        with self.lock:
            if index_file.exists():
                cached: list[str] = json.loads(index_file.read_text())["files"]
                if all((self.root / f).exists() for f in cached):
                    return cached
            files = self._pip_download(args, failure=failure, python=python)
            atomic_write(index_file, json.dumps({"key": key, "files": files}, indent=1))
            return files

    def _pip_download(self, args: list[str], *, failure: str, python: Path | None) -> list[str]:
        """Run ``pip download`` into a scratch folder and move the new files into the store."""
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            exe = [str(python), "-I"] if python else [sys.executable]
            cmd = [*exe, "-m", "pip", "download", "--disable-pip-version-check", "-q", "-d", tmp, *args]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise InputError(f"{failure} ({last})")
            files = sorted(p.name for p in Path(tmp).iterdir())
            for name in files:
                if not (self.root / name).exists():
                    (Path(tmp) / name).chmod(0o644)
                    (Path(tmp) / name).replace(self.root / name)
        return files

    def _index_file(self, key: str) -> Path:
        return self._index_dir / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # Readable by the unprivileged user of a container cell (mkstemp makes 0600 files).
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink()
        raise
