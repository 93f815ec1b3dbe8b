"""Results as records: one JSON object per cell, each line appended whole.

A line is written with a single ``write`` of the complete text and flushed to disk, so a crash leaves
either the whole record or none of it; the reader skips (and reports) any damaged line rather than
failing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORD_FORMAT = 1
RESULTS = "results.jsonl"


class RecordWriter:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / RESULTS
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)


def read_records(run_dir: Path, *, damaged: list[str] | None = None) -> list[dict[str, Any]]:
    return list(iter_records(run_dir / RESULTS, damaged=damaged))


def iter_records(path: Path, *, damaged: list[str] | None = None) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if damaged is not None:
                    damaged.append(f"{path}:{number}: damaged record skipped")
                continue
            if isinstance(record, dict):
                yield record
