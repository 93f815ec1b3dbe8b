"""The wheel directory: every artifact a cell installs, fetched once on the host and hashed.

Cells run with no index (``PIP_NO_INDEX=1``, ``PIP_FIND_LINKS``) against this folder, so a verdict
never depends on the network, and each record lists the sha256 of what it could install.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from isolation_harness import __version__
from isolation_harness.errors import InputError
from isolation_harness.probe import PROBE_MODULE

PROBE_NAME = "isolation-harness-probe"
PROBE_PTH = "isolation_harness_probe.pth"
# A fixed timestamp keeps the probe wheel's bytes, and so its sha256, the same on every machine.
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)


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


class Wheelhouse:
    """A content-addressed folder of wheels with a small index of what was resolved for what."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        # Container cells read it as an unprivileged user (a mkdtemp folder would be 0700).
        self.root.chmod(0o755)
        self._index_dir = self.root / ".resolved"
        self._index_dir.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}

    # -- pip releases ---------------------------------------------------------------------------
    def pip_wheel(self, version: str) -> Path:
        """The wheel of one pip release, downloaded on first use, or of a registered candidate."""
        if "+" in version:  # a candidate built or overlaid on the host: see pipsource.py
            entry = self._index_entry(f"pip=={version}")
            if entry is None:
                raise InputError(f"--pip {version}: no such candidate in {self.root}; pass its source again")
            return self.root / str(entry["files"][0])
        files = self.download(
            ["--no-deps", f"pip=={version}"],
            key=f"pip=={version}",
            failure=f"--pip {version}: pip {version} could not be downloaded from the index; "
            "check the release exists (pip index versions pip) or fix matrix.yaml",
        )
        wheels = [f for f in files if f.startswith("pip-") and f.endswith(".whl")]
        if not wheels:
            raise InputError(f"--pip {version}: no wheel of pip {version} was found; pick a release with a wheel")
        return self.root / wheels[0]

    def hidden_from(self, python: str) -> list[str]:
        """The wheels whose Requires-Python excludes ``python``.

        An index page tells pip a file's Requires-Python (data-requires-python) before it picks it; a
        flat wheel directory cannot, and pip before 20.3 would then take a newer release that refuses
        the interpreter ("requires a different Python") where PyPI would have served an older one. The
        driver shows each cell a view of the directory without these files, as the index would.
        """
        version = Version(f"{python}.99")
        hidden = []
        for path in sorted(self.root.glob("*.whl")):
            spec = self._wheel_requires_python(path)
            if spec is not None and not spec.contains(version, prereleases=True):
                hidden.append(path.name)
        return hidden

    def _wheel_requires_python(self, path: Path) -> SpecifierSet | None:
        key = f"requires-python:{path.name}"
        with self._lock:
            if key not in self._hashes:
                try:
                    with zipfile.ZipFile(path) as wheel:
                        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
                        meta = Parser().parsestr(wheel.read(name).decode("utf-8"))
                    self._hashes[key] = meta.get("Requires-Python") or ""
                except (OSError, StopIteration, zipfile.BadZipFile, UnicodeDecodeError):
                    self._hashes[key] = ""
            text = self._hashes[key]
        try:
            return SpecifierSet(text) if text else None
        except InvalidSpecifier:
            return None

    def requires_python(self, version: str) -> SpecifierSet:
        with zipfile.ZipFile(self.pip_wheel(version)) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(wheel.read(name).decode("utf-8"))
        return SpecifierSet(meta.get("Requires-Python") or "")

    # -- build and host requirements ------------------------------------------------------------
    def requirements(self, requirements: Iterable[str], python: str) -> list[Path]:
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
        files = self.download(
            args,
            key=f"py{python}{'' if target is None else '+own'}:" + ";".join(reqs),
            failure=f"build requirements {', '.join(reqs)} could not be resolved for Python {python}",
            python=target,
        )
        return [self.root / f for f in files]

    def sdists(self, requirements: Iterable[str]) -> list[Path]:
        """Source distributions (no dependencies) for scenarios that build from source, such as a
        self-hosting backend under --no-binary (seed 003)."""
        reqs = sorted(set(requirements))
        if not reqs:
            return []
        files = self.download(
            ["--no-binary=:all:", "--no-deps", "--no-build-isolation", *reqs],
            key="sdist:" + ";".join(reqs),
            failure=f"source distributions {', '.join(reqs)} could not be downloaded",
        )
        return [self.root / f for f in files]

    # -- candidates built on the host --------------------------------------------------------------
    def register_pip(self, label: str, wheel: Path, *, source: dict[str, Any]) -> Path:
        """Keep a non-release pip wheel under its label, with where it came from."""
        dest = self.root / f"pip-{label}-py3-none-any.whl"
        with self._lock:
            _atomic_write_bytes(dest, wheel.read_bytes())
            _atomic_write(
                self._index_file(f"pip=={label}"),
                json.dumps({"key": f"pip=={label}", "files": [dest.name], "source": source}, indent=1),
            )
        return dest

    def provenance(self, label: str) -> dict[str, Any] | None:
        """Where a non-release pip came from (None for releases from the index)."""
        entry = self._index_entry(f"pip=={label}")
        source = entry.get("source") if entry else None
        return source if isinstance(source, dict) else None

    def add_file(self, path: Path) -> Path:
        dest = self.root / path.name
        with self._lock:
            if not dest.exists() or dest.read_bytes() != path.read_bytes():
                _atomic_write_bytes(dest, path.read_bytes())
        return dest

    def _index_file(self, key: str) -> Path:
        return self._index_dir / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")

    def _index_entry(self, key: str) -> dict[str, Any] | None:
        try:
            entry: dict[str, Any] = json.loads(self._index_file(key).read_text())
        except (OSError, ValueError):
            return None
        return entry

    def download(self, args: list[str], *, key: str, failure: str, python: Path | None = None) -> list[str]:
        """``pip download`` once per key; later calls return the files recorded the first time."""
        index_file = self._index_file(key)
        with self._lock:
            if index_file.exists():
                cached: list[str] = json.loads(index_file.read_text())["files"]
                if all((self.root / f).exists() for f in cached):
                    return cached
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
            _atomic_write(index_file, json.dumps({"key": key, "files": files}, indent=1))
            return files

    # -- the probe ------------------------------------------------------------------------------
    def probe_wheel(self) -> Path:
        """Build the probe wheel (deterministic bytes) if it is not there yet."""
        version = __version__
        dist = f"isolation_harness_probe-{version}.dist-info"
        files = {
            "_ih_probe.py": PROBE_MODULE.read_bytes(),
            PROBE_PTH: b"import _ih_probe; _ih_probe.install()\n",
            f"{dist}/METADATA": (
                f"Metadata-Version: 2.1\nName: {PROBE_NAME}\nVersion: {version}\n"
                "Summary: isolation-harness probe (reports from inside a build environment)\n"
            ).encode(),
            f"{dist}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: isolation-harness\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            ),
        }
        record = "".join(f"{name},sha256={_urlsafe_digest(data)},{len(data)}\n" for name, data in files.items())
        files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        path = self.root / f"isolation_harness_probe-{version}-py3-none-any.whl"
        with self._lock:
            if not path.exists() or path.read_bytes() != buffer.getvalue():
                _atomic_write_bytes(path, buffer.getvalue())
        return path

    def artifact(self, path: Path) -> Artifact:
        with self._lock:
            digest = self._hashes.get(path.name)
            if digest is None:
                digest = self._hashes[path.name] = sha256_of(path)
        return Artifact(path.name, digest)


def probe_requirement() -> str:
    return f"{PROBE_NAME}=={__version__}"


def _urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _atomic_write(path: Path, text: str) -> None:
    _atomic_write_bytes(path, text.encode())


def _atomic_write_bytes(path: Path, data: bytes) -> None:
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


def _interpreter_with_pip(python: str) -> Path | None:
    """This machine's interpreter for ``python`` if it can run pip, else None."""
    from isolation_harness.engines.local import find_interpreter

    exe = find_interpreter(python)
    if exe is None:
        return None
    with _PIP_CHECK_LOCK:
        if exe not in _PIP_CHECKED:
            proc = subprocess.run([str(exe), "-I", "-m", "pip", "--version"], capture_output=True, check=False)
            _PIP_CHECKED[exe] = proc.returncode == 0
    return exe if _PIP_CHECKED[exe] else None


_PIP_CHECKED: dict[Path, bool] = {}
_PIP_CHECK_LOCK = threading.Lock()
