"""pyproject.toml of a project under test: its declared build system, and the probe added to it."""

from __future__ import annotations

import re
import sys
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from isolation_harness.errors import ConfigError
from isolation_harness.scenario import Scenario
from isolation_harness.wheelhouse import probe_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself needs 3.10+, where tomli stands in
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def parse_toml(text: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(text)
    return data


def build_requirements(scenario: Scenario) -> list[str]:
    """The project's declared build requirements (the probe is added to them for the cell)."""
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


def _pyproject(scenario: Scenario) -> dict[str, Any]:
    text = scenario.project.file_map["pyproject.toml"]
    try:
        return parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{scenario.source}: key 'project.files.pyproject.toml': not valid TOML ({exc})") from None


def with_probe(scenario: Scenario) -> str:
    """pyproject.toml of the scenario's project with the probe added to ``build-system.requires``."""
    where = f"{scenario.source}: key 'project.files.pyproject.toml'"
    return insert_probe(scenario.project.file_map["pyproject.toml"], where)


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
