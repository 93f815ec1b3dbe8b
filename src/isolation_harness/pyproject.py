"""pyproject.toml of a project under test: its declared build system, and the probe added to it.

A legacy project (setup.py, no pyproject.toml) declares nothing: it gets PEP 517's fallback (the
requirements and backend pip uses for it), and the probe travels inside the project instead, since
no build requirement of ours can reach a build whose requirements are the frontend's own.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from isolation_harness.errors import ConfigError
from isolation_harness.probe import PROBE_MODULE
from isolation_harness.scenario import Scenario
from isolation_harness.wheelhouse import probe_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself needs 3.10+, where tomli stands in
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def parse_toml(text: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(text)
    return data


# What pip builds a project without pyproject.toml with when it takes the PEP 517 path (PEP 517's
# "setuptools.build_meta:__legacy__" and pip's fallback requirements, pip's pyproject.py).
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# The first line of a legacy project's setup.py in a cell: loads the probe from beside setup.py by
# its file (sys.path is left as the frontend made it) and starts it. `legacy=True` lets it report a
# setup.py run by the frontend itself, outside any PEP 517 hook (pip before 25.3).
LEGACY_PROBE_LINE = (
    "import importlib.util as _ih_u, os as _ih_o; _ih_s = _ih_u.spec_from_file_location('_ih_probe', "
    "_ih_o.path.join(_ih_o.path.dirname(_ih_o.path.abspath(__file__)), '_ih_probe.py')); "
    "_ih_m = _ih_u.module_from_spec(_ih_s); _ih_s.loader.exec_module(_ih_m); _ih_m.install(legacy=True)"
    "  # isolation-harness probe\n"
)


def build_requirements(scenario: Scenario) -> list[str]:
    """The project's declared build requirements (the probe is added to them for the cell)."""
    if scenario.project.legacy:
        return list(LEGACY_REQUIRES)
    requires = _pyproject(scenario).get("build-system", {}).get("requires", [])
    local = _dev_wheel_names(scenario)
    wanted = []
    for req in requires:
        try:
            name = canonicalize_name(Requirement(req).name)
        except InvalidRequirement:
            raise ConfigError(
                f"{scenario.source}: key 'project.files.pyproject.toml': bad build requirement {req!r}"
            ) from None
        if name not in local:  # built in the cell from the project's dev-wheels folders
            wanted.append(req)
    return wanted


def declared_backend(scenario: Scenario) -> tuple[str, list[str]]:
    """``build-backend`` and ``backend-path`` as declared."""
    if scenario.project.legacy:
        return LEGACY_BACKEND, []
    build_system = _pyproject(scenario).get("build-system", {})
    return build_system.get("build-backend", ""), list(build_system.get("backend-path", []))


def _dev_wheel_names(scenario: Scenario) -> set[str]:
    outside = dict(scenario.project.outside)
    names: set[str] = set()
    for folder in scenario.project.dev_wheels:
        text = outside.get(f"{folder.rstrip('/')}/pyproject.toml")
        if text:
            name = tomllib.loads(text).get("project", {}).get("name")
            if name:
                names.add(canonicalize_name(name))
    return names


def _unfetched(scenario: Scenario) -> None:
    """A project from a released sdist has files only once sdistproject.materialize fetched them."""
    if scenario.project.from_sdist and "pyproject.toml" not in scenario.project.file_map:
        raise ConfigError(
            f"{scenario.source}: project from-sdist {scenario.project.from_sdist} was not fetched before its "
            "build system was read (sdistproject.materialize)"
        )


def _pyproject(scenario: Scenario) -> dict[str, Any]:
    _unfetched(scenario)
    text = scenario.project.file_map["pyproject.toml"]
    try:
        return parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{scenario.source}: key 'project.files.pyproject.toml': not valid TOML ({exc})") from None


def with_probe(scenario: Scenario) -> dict[str, str]:
    """The project's files with the probe: added to ``build-system.requires``, or, for a legacy
    project, beside setup.py and started by its first line."""
    _unfetched(scenario)
    files = scenario.project.file_map
    if scenario.project.legacy:
        files["setup.py"] = LEGACY_PROBE_LINE + files["setup.py"]
        files["_ih_probe.py"] = PROBE_MODULE.read_text()
        return files
    where = f"{scenario.source}: key 'project.files.pyproject.toml'"
    files["pyproject.toml"] = insert_probe(files["pyproject.toml"], where)
    return files


def insert_probe(text: str, where: str) -> str:
    """Add the probe to the ``build-system.requires`` array of a pyproject.toml text.

    Only that array changes, textually, so the rest of the file stays byte-for-byte as written; the
    result is parsed again to prove the edit did what it should.
    """
    probe = probe_requirement()
    section = re.search(r"(?ms)^\[build-system\][ \t]*\n(.*?)(?=^\[|\Z)", text)
    match = re.search(r"(?m)^requires[ \t]*=[ \t]*\[", section.group(1)) if section else None
    if section is None or match is None:
        raise ConfigError(
            f"{where}: needs a [build-system] table with a 'requires = [...]' array, so the probe can join "
            "the build requirements"
        )
    at = section.start(1) + match.end()
    edited = f'{text[:at]}"{probe}", {text[at:]}'
    if parse_toml(edited)["build-system"]["requires"][0] != probe:
        raise ConfigError(f"{where}: could not add the probe to requires")
    return edited
