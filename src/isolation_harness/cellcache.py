"""The result cache: a cell whose every input is unchanged since it last ran is not run again.

A cell's key is a sha256 over everything that decides what happens inside its container: the driver
spec (the scenario's project, fixtures and contamination, the frontend, mode and time limit), the
sha256 of every artifact it can install (pip, the frontend's wheels, the probe, the build
requirements), the engine's identity for its Python (recipe, base image, exact interpreter, base
packages, memory limit) and the driver's and probe's own source. What the cache keeps is the cell's
raw output (``result.json``, logs, probe reports), never a verdict: a reused cell is judged again by
this harness's evidence and verdict rules, against the scenario's expectations of today.

Only decided cells are kept (no error, timeout or flaky): a fault of the machine is not a fact about
pip. Entries are written whole (a folder renamed into place), so a crash leaves an entry or nothing.

    <cache>/<key[:2]>/<key>/entry.json   the run that measured it, its engine outcome and timings
    <cache>/<key[:2]>/<key>/out/         the cell's output folder as that run wrote it
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness.engines.base import EngineInfo
from isolation_harness.errors import InputError
from isolation_harness.probe import DRIVER
from isolation_harness.runfolder import RunFolder
from isolation_harness.spec import DriverSpec
from isolation_harness.wheelstore import Artifact

CACHE_FORMAT = 1
ENTRY = "entry.json"
OUT = "out"
ENV = "ISOLATION_HARNESS_CACHE"
# The share of cached cells the scheduled workflow runs again for real each week (regression.yml's
# --recheck; the bench uses the same). A week without new releases costs only this sample, so it must
# be well under the 5% of a full run that such a week may cost (issue 19): 2% of the catalogue's 5,620
# cells is 113 cells a week, each week others (the sample is drawn by the run's id).
WEEKLY_RECHECK = 2.0
# The verdicts a cache keeps: decided by the runs, not by a fault, a time limit or disagreeing repeats.
DECIDED = frozenset(("unsupported", "broke", "leaked", "held"))
# The index a cell serves makes its TLS files and password anew each time (packageindex.cell_index):
# the key holds what the scenario asked for (tls, auth, env), not those secrets.
_FRESH_EACH_CELL = ("ca", "cert", "key", "password")


def default_location() -> Path:
    """$ISOLATION_HARNESS_CACHE, else the user cache beside the wheel directory."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "isolation-harness" / "cells"


@functools.cache
def driver_digest() -> str:
    """sha256 of the driver and probe sources that go into every cell (read once: every key needs it)."""
    digest = hashlib.sha256()
    for path in sorted(DRIVER.parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cell_key(
    spec: DriverSpec, artifacts: Sequence[Artifact], identity: Mapping[str, str], time_limit: float, driver: str
) -> str:
    material = spec.to_json()
    if isinstance(material.get("index"), dict):
        material["index"] = {k: v for k, v in material["index"].items() if k not in _FRESH_EACH_CELL}
    blob = {
        "format": CACHE_FORMAT,
        "spec": material,
        "artifacts": sorted((a.file, a.sha256) for a in artifacts),
        "engine": dict(identity),
        "time_limit": time_limit,
        "driver": driver,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A cell as a run measured it: enough to judge it again without running it."""

    key: str
    run_id: str  # the run that measured it (a reused record's ``cached_from``)
    cell: str
    timed_out: bool
    fault: str | None
    info: EngineInfo
    python_exact: str
    started: str
    finished: str
    duration: float
    verdict: str  # as judged when it was measured (a recheck compares against it)
    out: Path = Path()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("out")
        data["format"] = CACHE_FORMAT
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], out: Path) -> Entry:
        info = dict(data["info"])
        info["notes"] = tuple(info.get("notes", ()))
        fields = {f.name for f in dataclasses.fields(cls)} - {"info", "out"}
        return cls(**{k: data[k] for k in fields}, info=EngineInfo(**info), out=out)


class CellCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> Entry | None:
        folder = self._folder(key)
        try:
            data = json.loads((folder / ENTRY).read_text())
            if data.get("format") != CACHE_FORMAT:
                return None
            return Entry.from_json(data, folder / OUT)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or written by another format: run the cell

    def put(self, entry: Entry, out_dir: Path) -> None:
        """Keep a measured cell (its output folder copied), replacing an older entry of the key."""
        final = self._folder(entry.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f".{entry.key}.{secrets.token_hex(4)}"
        try:
            shutil.copytree(out_dir, staging / OUT, symlinks=True)
            (staging / ENTRY).write_text(json.dumps(entry.to_json(), sort_keys=True))
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            staging.replace(final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.exists():
                raise

    def touch(self, key: str) -> None:
        """Mark an entry used now (reused, a seed, in a merged run): what ``prune`` keeps."""
        with contextlib.suppress(OSError):
            os.utime(self._folder(key) / ENTRY)

    def prune(self, unused_days: float, *, now: float | None = None) -> tuple[int, int]:
        """Remove the entries no run has used (measured, reused or imported) for ``unused_days``: the
        weekly cache only grows otherwise (old pips, old images' keys), and GitHub evicts a
        repository's caches whole past 10 GB. Returns (removed, kept)."""
        limit = (time.time() if now is None else now) - unused_days * 86400
        removed = kept = 0
        for folder in sorted(self.root.glob("??/*")) if self.root.is_dir() else []:
            # A staging folder counts from when it was made (one being written now stays).
            staging = folder.name.startswith(".")
            try:
                used = (folder if staging else folder / ENTRY).stat().st_mtime
            except OSError:
                used = 0.0  # a damaged entry
            if used < limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
            elif not staging:
                kept += 1
        return removed, kept

    def drop(self, key: str) -> None:
        """Forget a key whose recheck disagreed: the next run measures it again."""
        shutil.rmtree(self._folder(key), ignore_errors=True)

    def entries(self) -> Iterator[Entry]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.glob("??/*")):
            if not folder.name.startswith("."):
                entry = self.get(folder.name)
                if entry is not None:
                    yield entry

    def durations(self) -> dict[str, float]:
        """Each cell id's measured time (the newest entry of it): what shards are balanced on."""
        found: dict[str, tuple[str, float]] = {}
        for entry in self.entries():
            if entry.cell not in found or entry.finished > found[entry.cell][0]:
                found[entry.cell] = (entry.finished, entry.duration)
        return {cell: duration for cell, (_, duration) in found.items()}


def open_cache(path: Path | None, *, option: str = "--cache-dir") -> CellCache:
    root = path or default_location()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{option} {root}: cannot make the cache folder ({exc.strerror}); pass another") from None
    return CellCache(root)


def copy_out(entry: Entry, out_dir: Path) -> None:
    """The cached output into a new run's cell folder, for its record's links and its evidence."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(entry.out, out_dir, symlinks=True)


def import_run(cache: CellCache, folder: RunFolder) -> tuple[int, int]:
    """Keep a run folder's decided cells (a merged run of shards): the scheduled workflow fills the
    cache it saves between weeks this way. Returns (kept, skipped)."""
    kept = skipped = 0
    for record in folder.records():
        # The cell's folder as the record names it (an older record's cell id may have been renamed).
        out = folder.path / Path(record.ran.driver_log).parent if record.ran else folder.path / "-"
        if not record.cache_key or record.verdict not in DECIDED or record.python_exact is None or not out.is_dir():
            skipped += 1
            continue
        entry = Entry(
            record.cache_key, record.cached_from or record.run_id, record.cell, False, None, record.engine,
            record.python_exact, record.started, record.finished, record.duration, record.verdict,
        )  # fmt: skip
        if cache.get(entry.key) is None:
            cache.put(entry, out)
        else:
            cache.touch(entry.key)
        kept += 1
    return kept, skipped
