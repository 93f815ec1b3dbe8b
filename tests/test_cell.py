from __future__ import annotations

import sys
from pathlib import Path

import pytest

from isolation_harness import spec
from isolation_harness.errors import ConfigError
from isolation_harness.pyproject import build_requirements, with_probe
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.wheelhouse import probe_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def test_probe_joins_build_requirements_and_nothing_else_changes(metapath: Scenario) -> None:
    original = metapath.project.file_map["pyproject.toml"]
    files = with_probe(metapath)
    edited = files.pop("pyproject.toml")
    assert files == {k: v for k, v in metapath.project.file_map.items() if k != "pyproject.toml"}
    assert tomllib.loads(edited)["build-system"]["requires"] == [probe_requirement(), "flit_core >=3.8.0,<4"]
    assert edited.replace(f'"{probe_requirement()}", ', "") == original
    assert build_requirements(metapath) == ["flit_core >=3.8.0,<4"]


def test_spec_carries_steps_and_project(metapath: Scenario, tmp_path: Path) -> None:
    data = spec.for_scenario(metapath, tmp_path / "pip-24.0-py3-none-any.whl").to_json()
    assert data["pip_wheel"] == "pip-24.0-py3-none-any.whl"
    assert [s["kind"] for s in data["steps"]] == ["install", "editable-finder"]
    assert probe_requirement() in data["project"]["files"]["pyproject.toml"]
    assert "_ih_canary" not in data["project"]["files"]["pyproject.toml"]


def test_pyproject_without_requires_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        "name: demo\nsummary: x\nreferences: [https://x]\nproject: {name: d, files: {pyproject.toml: '[project]'}}\n"
        "action: {frontend: pip, args: [install]}\nexpect: [{verdict: held}]\n"
    )
    with pytest.raises(ConfigError, match=r"demo.yaml: key 'project.files.pyproject.toml': needs a \[build-system\]"):
        with_probe(load_scenario(path))
