"""Engines run one cell each; nothing outside this package knows which one runs."""

from __future__ import annotations

from collections.abc import Callable

from isolation_harness.engines.base import CellJob, Engine, EngineInfo, JobOutcome

__all__ = ["CellJob", "Engine", "EngineInfo", "JobOutcome", "select_engine"]


def select_engine(name: str, *, keep: bool = False, log: Callable[[str], None] | None = None) -> Engine:
    """``docker``, ``local``, or ``auto``: docker when its daemon answers, otherwise local.

    ``--engine docker`` without a daemon raises EngineUnavailable (exit 2) with how to start one;
    ``auto`` falls back quietly here, and the CLI warns that the isolation is weaker.
    """
    from isolation_harness.engines.local import LocalEngine

    if name == "local":
        return LocalEngine(keep=keep)
    from isolation_harness.engines import docker as docker_engine

    if name == "docker":
        return docker_engine.DockerEngine(keep=keep, log=log)
    try:
        client = docker_engine.connect()
    except Exception:  # noqa: BLE001 - any failure to reach a daemon means: no docker here
        return LocalEngine(keep=keep)
    return docker_engine.DockerEngine(client, keep=keep, log=log)
