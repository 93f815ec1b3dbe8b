"""The driver spec: what the host sends the cell driver, built in one place, read key by key by the driver."""

from __future__ import annotations

import atexit
import dataclasses
import functools
import importlib
import io
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from isolation_harness import frontends, spec
from isolation_harness.packageindex import PackageIndex, cell_index
from isolation_harness.probe import CANARY_MODULE, PROBE_MODULE
from isolation_harness.pyproject import LEGACY_PROBE_LINE, declared_backend, parse_toml
from isolation_harness.scenario import Scenario, load_scenario, load_scenarios
from isolation_harness.sdistproject import materialize
from isolation_harness.spec import CellPaths, DriverSpec, ProjectSpec
from isolation_harness.steps import EditableFinder, EnvVars, Install, PipConfig, PthFile, Step, VenvConfig
from isolation_harness.wheelhouse import Wheelhouse, probe_requirement

from .conftest import SCENARIOS

WHEEL = Path("/wheels/pip-26.3-py3-none-any.whl")
PROBE = Path(CANARY_MODULE).parent
# The driver is probe/driver.py and its _driver_*.py siblings (copied into the cell together).
DRIVER_FILES = [PROBE / "driver.py", *sorted(PROBE.glob("_driver*.py"))]
STEP_TYPES = (Install, EditableFinder, PthFile, EnvVars, PipConfig, VenvConfig)
PATHS = CellPaths(
    cell_dir="/cell",
    out_dir="/out",
    wheelhouse="/wheels",
    system_path="/usr/bin:/bin",
    prepared="/prepared",
    prepare_key="py3.11-pip26.3-pip-abc",
)


# A project from a released sdist (setuptools building itself) gets its files from the wheel directory;
# offline, a stand-in sdist per release: a self-hosting pyproject.toml and a binary file.
STANDIN_PYPROJECT = (
    '[build-system]\nrequires = []\nbuild-backend = "setuptools.build_meta"\nbackend-path = ["."]\n\n'
    '[project]\nname = "setuptools"\n'
)


class _StandinSdists:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ih-test-sdists-"))
        atexit.register(shutil.rmtree, self.root, True)

    def sdists(self, requirements: list[str]) -> list[Path]:
        paths = []
        for req in requirements:
            name, _, version = req.partition("==")
            path = self.root / f"{name}-{version}.tar.gz"
            with tarfile.open(path, "w:gz") as tar:
                for rel, data in (("pyproject.toml", STANDIN_PYPROJECT.encode()), ("launcher.exe", b"MZ\x90\x00")):
                    info = tarfile.TarInfo(f"{name}-{version}/{rel}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            paths.append(path)
        return paths


@functools.lru_cache(maxsize=1)
def _scenarios() -> list[Scenario]:
    house = cast(Wheelhouse, _StandinSdists())
    return [materialize(s, house) for s in load_scenarios(SCENARIOS).values()]


def test_a_project_from_a_released_sdist_is_its_files_with_the_probe() -> None:
    (scenario,) = [s for s in _scenarios() if s.name == "setuptools-editable"]
    assert scenario.project.from_sdist == "setuptools==75.8.0"
    data = spec.for_scenario(scenario, WHEEL).to_json()["project"]
    assert data["binary_files"] == {"launcher.exe": "TVqQAA=="}
    assert parse_toml(data["files"]["pyproject.toml"])["build-system"]["requires"] == [probe_requirement()]
    assert declared_backend(scenario) == ("setuptools.build_meta", ["."])


def _driver_text() -> str:
    return "\n".join(path.read_text() for path in DRIVER_FILES)


def _keys(pattern: str, text: str) -> set[str]:
    return set(re.findall(pattern, text))


def _project(**changes: Any) -> ProjectSpec:
    return dataclasses.replace(ProjectSpec(name="p", offer="path", files={"pyproject.toml": "x"}), **changes)


def _built(steps: tuple[Step, ...]) -> DriverSpec:
    return spec.build(
        _project(), pip_wheel=WHEEL.name, frontend="pip", pip_args=("install", "."), run_timeout=60, steps=steps
    )


def _assert_probe_only_joined_requires(scenario: Scenario, files: dict[str, str]) -> None:
    assert set(files) == set(scenario.project.file_map)
    original = parse_toml(scenario.project.file_map["pyproject.toml"])["build-system"]
    edited = parse_toml(files["pyproject.toml"])["build-system"]
    assert edited["requires"] == [probe_requirement(), *original["requires"]]
    assert {k: v for k, v in edited.items() if k != "requires"} == {
        k: v for k, v in original.items() if k != "requires"
    }
    assert (
        files["pyproject.toml"].replace(f'"{probe_requirement()}", ', "") == scenario.project.file_map["pyproject.toml"]
    )
    assert {k: v for k, v in files.items() if k != "pyproject.toml"} == {
        k: v for k, v in scenario.project.file_map.items() if k != "pyproject.toml"
    }


# -- the catalogue's specs --------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.name)
def test_every_scenarios_spec(scenario: Scenario) -> None:
    built = spec.for_scenario(scenario, WHEEL)
    data = built.to_json()
    assert data["spec_version"] == spec.SPEC_VERSION == 3
    assert data["pip_wheel"] == "pip-26.3-py3-none-any.whl"  # a name in the wheel directory, not a host path
    assert data["run_timeout"] == scenario.timeout
    assert data["steps"] == [dataclasses.asdict(step) for step in scenario.contamination]
    assert [s["kind"] for s in data["steps"]] == [s.kind for s in scenario.contamination]
    assert data["leading_installs"] == built.leading_installs
    assert data["canary_source"] == CANARY_MODULE.read_text()
    assert data["wheelhouse_hidden"] == []
    assert "control_only" not in data
    # The project, with the probe first among its build requirements and nothing else changed (a
    # legacy project's probe goes beside setup.py instead: tests/test_probe.py).
    files = data["project"]["files"]
    if scenario.project.legacy:
        assert files.pop("setup.py") == LEGACY_PROBE_LINE + scenario.project.file_map["setup.py"]
        assert files.pop("_ih_probe.py") == PROBE_MODULE.read_text()
        assert files == {k: v for k, v in scenario.project.file_map.items() if k != "setup.py"}
    else:
        _assert_probe_only_joined_requires(scenario, files)
    assert (data["project"]["name"], data["project"]["offer"]) == (scenario.project.name, scenario.project.offer)
    assert data["project"].get("outside", {}) == dict(scenario.project.outside)
    assert data["project"].get("links", {}) == dict(scenario.project.links)
    assert data["project"].get("dev_wheels", []) == list(scenario.project.dev_wheels)
    # The backend as declared, for the frontends that do not name it to the hooks (uv).
    backend, path = declared_backend(scenario)
    assert data["backend"] == {"spec": backend, "path": path}
    if not scenario.project.legacy:
        original = parse_toml(scenario.project.file_map["pyproject.toml"])["build-system"]
        assert (backend, path) == (original.get("build-backend", ""), list(original.get("backend-path", [])))


@pytest.mark.parametrize("frontend", frontends.NAMES)
def test_the_action_and_frontend_per_frontend(frontend: str) -> None:
    table = frontends.get(frontend)
    for scenario in _scenarios():
        built = spec.for_scenario(scenario, WHEEL, frontend=frontend)
        expected = table.args(scenario.action.args, scenario.action.for_frontend(frontend))
        assert built.action_args == expected, scenario.name
        assert built.frontend == table
        data = built.to_json()
        assert data["action_args"] == list(expected)
        assert data["frontend"] == frontend
        assert data["frontend_module"] == table.module
        assert data["frontend_requirements"] == list(table.requirements)
        assert data["frontend_roots"] == list(table.roots)
        assert data["frontend_env"] == dict(table.env)


def test_a_scenarios_own_command_for_a_frontend_wins() -> None:
    own = {(s.name, name): s for s in _scenarios() for name, _ in s.action.own}
    assert ("dev-backend", "uv") in own  # the catalogue has some
    for (_, name), scenario in own.items():
        command = scenario.action.for_frontend(name)
        assert command is not None
        built = spec.for_scenario(scenario, WHEEL, frontend=name)
        assert built.action_args == tuple(command)
        assert built.to_json()["action_args"] == list(command)


def test_timeout_and_hidden_wheels() -> None:
    metapath = load_scenario(SCENARIOS / "metapath.yaml")
    data = spec.for_scenario(metapath, WHEEL, timeout=7, wheelhouse_hidden=["a-1-py3-none-any.whl"]).to_json()
    assert data["run_timeout"] == 7
    assert data["wheelhouse_hidden"] == ["a-1-py3-none-any.whl"]


# -- leading installs -------------------------------------------------------------------------------
def test_leading_installs_on_the_catalogue() -> None:
    by_name = {s.name: s for s in _scenarios()}
    # metapath: an install into the host venv, then the editable finder.
    metapath = spec.for_scenario(by_name["metapath"], WHEEL)
    assert [type(s) for s in by_name["metapath"].contamination] == [Install, EditableFinder]
    assert metapath.leading_installs == 1
    assert metapath.leading_requirements == ["flit_core >=3.8.0,<4"]
    # Measured on the catalogue: those whose contamination opens with installs into the host venv.
    opening_installs = {"distutils-hack", "metapath", "path-scripts", "pth-exec", "pth-setuptools"}
    for name in opening_installs:
        assert spec.for_scenario(by_name[name], WHEEL).leading_installs == 1, name
    for name in ("user-site", "system-site-packages"):  # an install, but after venv-config, into user/base
        assert spec.for_scenario(by_name[name], WHEEL).leading_installs == 0, name
    for scenario in by_name.values():
        first = scenario.contamination[0] if scenario.contamination else None
        count = spec.for_scenario(scenario, WHEEL).leading_installs
        if isinstance(first, Install) and first.into == "host":
            assert count >= 1, scenario.name
        else:
            assert count == 0, scenario.name  # a .pth, an env var or an install elsewhere comes first


def test_a_step_before_the_installs_means_none_came_from_a_prepared_image() -> None:
    metapath = load_scenario(SCENARIOS / "metapath.yaml")
    pth_first = dataclasses.replace(
        metapath, contamination=(PthFile(name="first.pth", lines=("import os",)), *metapath.contamination)
    )
    built = spec.for_scenario(pth_first, WHEEL)
    assert built.leading_installs == 0
    assert built.leading_requirements == []
    assert built.to_json()["leading_installs"] == 0


@pytest.mark.parametrize(
    ("steps", "count"),
    [
        ((), 0),
        ((Install(("a",)),), 1),
        ((Install(("a",)), Install(("b", "c"))), 2),
        ((Install(("a",)), Install(("b",), into="user"), Install(("c",))), 1),
        ((Install(("a",), into="base"), Install(("b",))), 0),
        ((EnvVars((("X", "1"),)), Install(("a",))), 0),
        ((VenvConfig(True), Install(("a",))), 0),
        ((Install(("a",)), PthFile("x.pth", ("y",)), Install(("b",))), 1),
    ],
)
def test_leading_installs_count_only_the_host_installs_that_open_the_contamination(
    steps: tuple[Step, ...], count: int
) -> None:
    built = _built(steps)
    assert built.leading_installs == count
    assert built.leading_requirements == [r for s in steps[:count] if isinstance(s, Install) for r in s.requirements]
    # The count the host sends is one the driver trusts (its own check of the contract).
    assert _driver_contract()(built.to_json(PATHS)) is None


def _driver_contract() -> Callable[[dict[str, Any]], str | None]:
    driver = importlib.import_module("isolation_harness.probe.driver")
    found = getattr(driver, "_contract", None) or getattr(getattr(driver, "base", None), "_contract", None)
    assert callable(found), "the driver's spec contract check (_contract) moved"
    return found  # type: ignore[no-any-return]


def test_the_driver_refuses_a_leading_count_that_is_not_the_hosts() -> None:
    data = _built((PthFile("x.pth", ("y",)), Install(("a",)))).to_json(PATHS)
    assert _driver_contract()({**data, "leading_installs": 1}) is not None
    assert _driver_contract()({**data, "spec_version": 2}) is not None


# -- paths, and what the driver reads -----------------------------------------------------------------
def test_paths_are_added_by_the_engine() -> None:
    built = spec.for_scenario(load_scenario(SCENARIOS / "metapath.yaml"), WHEEL)
    path_keys = {f.name for f in dataclasses.fields(CellPaths)}
    bare = built.to_json()
    assert not path_keys & set(bare)
    local = CellPaths(cell_dir="/tmp/ih-cell-x", out_dir="/out/c", wheelhouse="/w", system_path="/usr/bin")
    data = built.to_json(local)
    assert {k: data[k] for k in ("cell_dir", "out_dir", "wheelhouse", "system_path")} == {
        "cell_dir": "/tmp/ih-cell-x",
        "out_dir": "/out/c",
        "wheelhouse": "/w",
        "system_path": "/usr/bin",
    }
    assert "prepared" not in data  # None: not sent
    assert "prepare_key" not in data
    assert {k: v for k, v in data.items() if k not in path_keys} == bare
    full = built.to_json(PATHS)
    assert (full["prepared"], full["prepare_key"]) == ("/prepared", "py3.11-pip26.3-pip-abc")


def test_the_spec_keys_are_the_keys_the_driver_reads() -> None:
    text = _driver_text()
    assert re.findall(r"(?m)^SPEC_VERSION\s*=\s*(\d+)", text) == [str(spec.SPEC_VERSION)]
    reads = _keys(r'\bspec\[\s*"(\w+)"\s*\]', text) | _keys(r'\bspec\.get\(\s*"(\w+)"', text)
    assert {"spec_version", "project", "steps", "action_args", "cell_dir"} <= reads  # the pattern finds them
    full = spec.build(
        _project(binary_files={"a.bin": "AA=="}, outside={"o/x": "1"}, links={"l": "{cell}/o"}, dev_wheels=("o",)),
        pip_wheel=WHEEL.name,
        frontend="uv",
        pip_args=("install", "."),
        run_timeout=60,
        steps=(Install(("a",)),),
        backend=("my_backend", (".",)),
        wheelhouse_hidden=("x.whl",),
        control_only=True,
        index=cell_index(PackageIndex(tls=True, auth=True)),
        editable_pip_wheel="pip-26.3-py3-none-any.whl",
    ).to_json(PATHS)
    assert reads - set(full) == set(), "the driver reads keys the host does not send"
    assert set(full) - reads == set(), "the host sends keys the driver never reads"
    # The project's keys likewise.
    project_reads = (
        _keys(r'\bproject\[\s*"(\w+)"\s*\]', text)
        | _keys(r'\bproject\.get\(\s*"(\w+)"', text)
        | _keys(r'\["project"\]\[\s*"(\w+)"\s*\]', text)
        | _keys(r'\["project"\]\.get\(\s*"(\w+)"', text)
    )
    assert set(full["project"]) == project_reads
    # Keys the driver requires (read with spec[...]) are sent by every spec, paths added.
    required = _keys(r'\bspec\[\s*"(\w+)"\s*\]', text) - {"prepared", "prepare_key"}
    for scenario in _scenarios():
        assert required <= set(spec.for_scenario(scenario, WHEEL).to_json(PATHS)), scenario.name
    assert _keys(r'\bproject\[\s*"(\w+)"\s*\]', text) <= set(_project().to_json())


def test_every_step_key_the_driver_reads_is_a_field_of_that_step() -> None:
    text = _driver_text()
    bodies = dict(re.findall(r"(?ms)^def _step_(\w+)\(c, step\)(.*?)(?=^def |\Z)", text))
    for step_type in STEP_TYPES:
        kind = step_type.__dataclass_fields__["kind"].default
        assert isinstance(kind, str)
        body = bodies.get(kind.replace("-", "_"))
        assert body is not None, f"no _step_{kind.replace('-', '_')} in the driver"
        read = _keys(r'\bstep\[\s*"(\w+)"\s*\]', body) | _keys(r'\bstep\.get\(\s*"(\w+)"', body)
        assert read, kind
        assert read <= {f.name for f in dataclasses.fields(step_type)}, kind
