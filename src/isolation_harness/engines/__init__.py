"""Engines run one cell each; nothing outside this package knows which one runs."""

from __future__ import annotations

from isolation_harness.engines.base import CellJob, Engine, EngineInfo, JobOutcome

__all__ = ["CellJob", "Engine", "EngineInfo", "JobOutcome", "select_engine"]


def select_engine(name: str) -> Engine:
    """``local`` or ``auto``: the local engine (the docker engine comes with the containers issue)."""
    from isolation_harness.engines.local import LocalEngine

    if name in ("local", "auto"):
        return LocalEngine()
    from isolation_harness.errors import InputError

    raise InputError(f"--engine {name}: not available in this build; use --engine local")
