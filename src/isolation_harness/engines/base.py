"""The engine interface: run the cell driver for one cell and hand back its output folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from isolation_harness.spec import DriverSpec


@dataclass(frozen=True)
class EngineInfo:
    """What every record says about where its cell ran."""

    name: str
    isolation: Literal["container", "process"]
    notes: tuple[str, ...] = ()
    image: str | None = None
    image_id: str | None = None
    # docker: the recipe that made the image (local, slim), the image it was built on (an official
    # python:X.Y-slim, the offline stand-in, or the root filesystem) and its pinned base site-packages.
    image_recipe: str | None = None
    image_base: str | None = None
    base_packages: str | None = None


@dataclass(frozen=True)
class CellJob:
    """One cell for an engine: the driver spec (the engine adds its paths) and where output goes."""

    spec: DriverSpec
    python: str  # the axis value, e.g. "3.12"
    wheelhouse: Path
    out_dir: Path  # on the host; must hold result.json and the logs when run_cell returns
    time_limit: float  # for the whole cell, a backstop behind the driver's per-run limits


@dataclass(frozen=True)
class JobOutcome:
    timed_out: bool
    fault: str | None  # the engine's own failure, if any
    info: EngineInfo
    queued: float = 0.0  # seconds the cell waited for its turn (pipeline), not part of its duration


class Engine(Protocol):
    name: str

    def info(self) -> EngineInfo:
        """Where cells run and how isolated they are; copied into every record."""
        ...

    def check_python(self, python: str) -> str:
        """Return the interpreter's exact version, or raise InputError naming the fix."""
        ...

    def cache_identity(self, python: str) -> dict[str, str] | None:
        """What of the engine decides a cell's outcome for this Python, for the result cache's key
        (cellcache), or None when the engine's environment can change under it (no reuse)."""
        ...

    def pipeline(self, jobs: int) -> int:
        """Let ``jobs`` cells run at once; returns how many threads may call run_cell (an engine that
        can set a cell up ahead of its turn takes more threads than running slots)."""
        ...

    def run_cell(self, job: CellJob) -> JobOutcome:
        """Run the driver for one cell; thread-safe, several cells run at once."""
        ...

    def abort(self) -> None:
        """Kill every cell still running (Ctrl-C, SIGTERM); their run_cell calls then clean up."""
        ...
