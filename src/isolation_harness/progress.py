"""Progress while a run goes: a live bar on a terminal, one plain line per cell in CI and logs."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from isolation_harness.record import CellRecord
from isolation_harness.report import cell_line


class Progress:
    def __init__(self, total: int, *, live: bool | None = None) -> None:
        self.total = total
        self.start = time.monotonic()
        if live is None:
            live = sys.stderr.isatty() and not os.environ.get("CI")
        self._bar: Any = None
        if live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task("cells", total=total)
            self._bar.start()

    def cell_done(self, record: CellRecord, done: int, total: int) -> None:
        line = cell_line(record, done, total)
        if self._bar is not None:
            self._bar.console.print(line, highlight=False)
            self._bar.update(self._task, completed=done, description=record.cell)
        else:
            elapsed = time.monotonic() - self.start
            print(f"{line} (elapsed {elapsed:.0f}s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
