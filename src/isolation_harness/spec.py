"""The one contract between the host and the cell driver: a typed spec, built in one place.

The host builds a :class:`DriverSpec` (``for_scenario`` for a catalogue cell, ``build`` for anything
else, such as diagnose's clean build); an engine adds where things are inside the cell
(:class:`CellPaths`) and writes ``to_json`` for ``probe/driver.py``, which checks ``spec_version``
before it reads anything else. Which leading ``install`` steps a prepared image already applied is
decided here, once (``leading_installs``): the docker engine keys its prepared image on the same
count the driver trusts, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness import frontends
from isolation_harness.packageindex import cell_index
from isolation_harness.probe import CANARY_MODULE
from isolation_harness.pyproject import declared_backend, with_probe
from isolation_harness.scenario import Install, Scenario, Step

# Must equal probe/driver.py's SPEC_VERSION; raise both when a key changes meaning.
SPEC_VERSION = 3


@dataclass(frozen=True)
class ProjectSpec:
    """The project under test as the driver writes it into the cell."""

    name: str
    offer: str  # "vcs": a git repository the frontend clones; "path": a plain folder
    files: Mapping[str, str]
    binary_files: Mapping[str, str] = dataclasses.field(default_factory=dict)  # base64 (diagnose)
    outside: Mapping[str, str] = dataclasses.field(default_factory=dict)
    links: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dev_wheels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "offer": self.offer, "files": dict(self.files)}
        if self.binary_files:
            data["binary_files"] = dict(self.binary_files)
        if self.outside or self.links or self.dev_wheels:
            data.update(outside=dict(self.outside), links=dict(self.links), dev_wheels=list(self.dev_wheels))
        return data


@dataclass(frozen=True)
class CellPaths:
    """Where the engine put things, as seen from inside the cell."""

    cell_dir: str
    out_dir: str
    wheelhouse: str
    system_path: str
    prepared: str | None = None  # the prepared environment (docker), when the image holds one
    prepare_key: str | None = None  # only when preparing that environment


@dataclass(frozen=True)
class DriverSpec:
    project: ProjectSpec
    pip_wheel: str
    frontend: frontends.Frontend
    action_args: tuple[str, ...]
    run_timeout: int
    steps: tuple[Step, ...] = ()
    backend: str = ""  # the declared build-backend, for frontends that do not name it to the hooks (uv)
    backend_path: tuple[str, ...] = ()
    wheelhouse_hidden: tuple[str, ...] = ()
    control_only: bool = False  # diagnose: only the clean build
    frontend_requirements: tuple[str, ...] = ()  # the frontend's own, pinned to the cell's release
    mode: str = frontends.DEFAULT_MODE  # pip's isolation mode (its flags are in action_args)
    # The package index the cell serves (packageindex.cell_index: TLS files, credentials, the runs'
    # environment), or None: the runs see the wheel directory only.
    index: Mapping[str, Any] | None = None
    editable_pip_wheel: str = ""  # the pip wheel that makes `editable` steps' installs (inputs.EDITABLE_PIPS)

    @property
    def leading_installs(self) -> int:
        """How many install steps into the host venv open the contamination: only those can come
        from a prepared image, since a step before an install (a .pth, an env var) could change what
        that install does."""
        count = 0
        for step in self.steps:
            if not isinstance(step, Install) or step.into != "host":
                break
            count += 1
        return count

    @property
    def leading_requirements(self) -> list[str]:
        return [
            req
            for step in self.steps[: self.leading_installs]
            if isinstance(step, Install)
            for req in step.requirements
        ]

    def to_json(self, paths: CellPaths | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "spec_version": SPEC_VERSION,
            "project": self.project.to_json(),
            "pip_wheel": self.pip_wheel,
            "steps": [dict(dataclasses.asdict(step)) for step in self.steps],
            "leading_installs": self.leading_installs,
            "run_timeout": self.run_timeout,
            "canary_source": CANARY_MODULE.read_text(),
            "backend": {"spec": self.backend, "path": list(self.backend_path)},
            "frontend": self.frontend.name,
            "frontend_module": self.frontend.module,
            "frontend_requirements": list(self.frontend_requirements),
            "frontend_roots": list(self.frontend.roots),
            "frontend_env": dict(self.frontend.env),
            "action_args": list(self.action_args),
            "wheelhouse_hidden": list(self.wheelhouse_hidden),
        }
        if self.control_only:
            data["control_only"] = True
        if self.index is not None:
            data["index"] = dict(self.index)
        if self.editable_pip_wheel:
            data["editable_pip_wheel"] = self.editable_pip_wheel
        if paths is not None:
            data.update({k: v for k, v in dataclasses.asdict(paths).items() if v is not None})
        return data


def build(
    project: ProjectSpec,
    *,
    pip_wheel: str,
    frontend: str,
    release: str | None = None,
    mode: str = frontends.DEFAULT_MODE,
    pip_args: Sequence[str],
    own_args: Sequence[str] | None = None,
    run_timeout: int,
    steps: Sequence[Step] = (),
    backend: tuple[str, Sequence[str]] = ("", ()),
    wheelhouse_hidden: Sequence[str] = (),
    control_only: bool = False,
    index: Mapping[str, Any] | None = None,
    editable_pip_wheel: str = "",
) -> DriverSpec:
    """The only place a DriverSpec is made."""
    chosen = frontends.get(frontend)
    return DriverSpec(
        project=project,
        pip_wheel=pip_wheel,
        frontend=chosen,
        action_args=chosen.args(pip_args, own_args, mode),
        run_timeout=run_timeout,
        steps=tuple(steps),
        backend=backend[0],
        backend_path=tuple(backend[1]),
        wheelhouse_hidden=tuple(wheelhouse_hidden),
        control_only=control_only,
        frontend_requirements=chosen.requirements_at(release),
        mode=mode,
        index=index,
        editable_pip_wheel=editable_pip_wheel,
    )


def for_scenario(
    scenario: Scenario,
    pip_wheel: Path,
    *,
    frontend: str = "pip",
    release: str | None = None,
    mode: str = frontends.DEFAULT_MODE,
    timeout: int | None = None,
    wheelhouse_hidden: Sequence[str] = (),
    editable_pip_wheel: Path | None = None,
) -> DriverSpec:
    """A catalogue cell's spec: the scenario's project (with the probe among its build
    requirements), contamination and action for this frontend."""
    files = with_probe(scenario)
    project = scenario.project
    return build(
        ProjectSpec(
            name=project.name,
            offer=project.offer,
            files=files,
            binary_files=dict(project.binary_files),
            outside=dict(project.outside),
            links=dict(project.links),
            dev_wheels=tuple(project.dev_wheels),
        ),
        pip_wheel=pip_wheel.name,
        frontend=frontend,
        release=release,
        mode=mode,
        pip_args=scenario.action.args,
        own_args=scenario.action.for_frontend(frontend),
        run_timeout=timeout or scenario.timeout,
        steps=scenario.contamination,
        backend=declared_backend(scenario),
        wheelhouse_hidden=wheelhouse_hidden,
        index=cell_index(scenario.index) if scenario.index is not None else None,
        editable_pip_wheel=editable_pip_wheel.name if editable_pip_wheel else "",
    )
