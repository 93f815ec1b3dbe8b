"""The frontends axis: derived actions, applicability rules, and the plan per frontend."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from isolation_harness import frontends, runner, spec
from isolation_harness.engines import EngineInfo
from isolation_harness.errors import ConfigError, InputError
from isolation_harness.matrix import Matrix, plan
from isolation_harness.runner import RunRequest
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.verdict import Verdict

from .conftest import FakeFacts

PIP_ARGS = ("install", "--target", "{target}", "{project_url}")


def requires(pip: str) -> SpecifierSet:
    return SpecifierSet(">=3.10" if Version(pip) >= Version("26") else ">=3.8")


def test_actions_are_derived_from_the_pip_action() -> None:
    assert frontends.get("pip").args(PIP_ARGS, None) == PIP_ARGS
    assert frontends.get("pip").args(PIP_ARGS, None, "venv-isolation") == (
        "install",
        "--use-feature=venv-isolation",
        "--target",
        "{target}",
        "{project_url}",
    )
    assert frontends.get("pip").args(PIP_ARGS, None, "inprocess-build-deps+venv-isolation")[:3] == (
        "install",
        "--use-feature=inprocess-build-deps",
        "--use-feature=venv-isolation",
    )
    assert frontends.get("build").args(PIP_ARGS, None) == ("--wheel", "--outdir", "{target}", "{project_dir}")
    assert frontends.get("uv").args(PIP_ARGS, None) == ("pip", *PIP_ARGS)
    # A scenario's own command for a frontend wins.
    assert frontends.get("uv").args(PIP_ARGS, ["pip", "install", "x"]) == ("pip", "install", "x")


PIP_ARG_LISTS = [
    (),
    ("install",),
    ("install", "--target", "{target}", "{project_url}"),
    ("wheel", "--no-deps", "--wheel-dir", "{target}", "{project_url}"),
]
EXPECTED_ARGS = {
    "pip": [
        (),
        ("install",),
        ("install", "--target", "{target}", "{project_url}"),
        ("wheel", "--no-deps", "--wheel-dir", "{target}", "{project_url}"),
    ],
    "build": [("--wheel", "--outdir", "{target}", "{project_dir}")] * 4,
    "uv": [
        ("pip",),
        ("pip", "install"),
        ("pip", "install", "--target", "{target}", "{project_url}"),
        ("pip", "wheel", "--no-deps", "--wheel-dir", "{target}", "{project_url}"),
    ],
}


@pytest.mark.parametrize("name", frontends.NAMES)
def test_every_frontends_args_for_several_pip_actions(name: str) -> None:
    # The commands are data in the table (args_template, flags_after_subcommand): the same
    # results as the per-name code they replaced, for every frontend.
    assert sorted(EXPECTED_ARGS) == sorted(frontends.NAMES)
    frontend = frontends.get(name)
    assert [frontend.args(args, None) for args in PIP_ARG_LISTS] == EXPECTED_ARGS[name]
    assert [frontend.args(list(args), None) for args in PIP_ARG_LISTS] == EXPECTED_ARGS[name]
    assert frontend.args(PIP_ARGS, ("own", "{target}")) == ("own", "{target}")
    assert frontend.args(PIP_ARGS, []) == ()


def test_the_table_says_what_the_cli_and_the_probe_need() -> None:
    assert frontends.names() == frontends.NAMES == ("pip", "build", "uv")
    assert frontends.MODE_NAMES == (
        "default",
        "inprocess-build-deps",
        "venv-isolation",
        "inprocess-build-deps+venv-isolation",
    )
    assert [f.name for f in frontends.FRONTENDS.values() if f.has_modes] == ["pip"]
    assert frontends.get("build").requirements_at("1.4.2") == ("build==1.4.2",)
    assert frontends.label("build", "1.4.2") == "build==1.4.2"
    assert frontends.label("pip", None, "venv-isolation") == "pip+venv-isolation"
    assert frontends.names(diagnose=True) == ("pip", "build", "uv")
    # uv's clean cell runs `uv build --wheel` with the cell's venv, as its user build does with the user's.
    clean = frontends.get("uv").diagnose_clean_args
    assert clean is not None
    assert clean[:2] == frontends.get("uv").diagnose_user_args[:2] == ("build", "--wheel")
    for name in ("pip", "build"):
        assert frontends.get(name).diagnose_args == (
            "wheel",
            "--no-deps",
            "--wheel-dir",
            "{target}",
            "{project_url}",
        )
    assert {name: f.hook_detection for name, f in frontends.FRONTENDS.items()} == {
        "pip": "pyproject-hooks",
        "build": "pyproject-hooks",
        "uv": "declared-backend",
    }


def test_applicability_rules() -> None:
    venv = frontends.MODES["venv-isolation"]
    assert "first released in pip 26.2" in (venv.not_applicable(Version("26.1"), frozenset({"fast-deps"})) or "")
    assert venv.not_applicable(Version("26.3"), frozenset({"venv-isolation"})) is None
    # The pip's own list decides, not its version: a candidate that has the feature gets the mode.
    assert venv.not_applicable(Version("26.1.dev0"), frozenset({"venv-isolation"})) is None
    uv = frontends.get("uv")
    assert uv.not_applicable(Version("26.3"), Version("26.3")) is None
    assert "newest pip's column (26.3)" in (uv.not_applicable(Version("25.0"), Version("26.3")) or "")
    assert frontends.get("build").not_applicable(Version("26.3"), Version("26.3")) is None
    assert frontends.get("build").not_applicable(Version("19.3.1"), Version("26.3")) is not None


def test_plan_per_frontend(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(metapath, matrix, facts=FakeFacts(requires), pythons=["3.9", "3.12"], pips=["24.0", "25.0", "26.3"])
    runnable = sorted(c.id for c in cells if c.not_applicable is None)
    assert runnable == sorted(
        [
            *(f"metapath/py{py}/pip{pip}/pip" for py in ("3.9", "3.12") for pip in ("24.0", "25.0")),
            *(f"metapath/py3.12/pip26.3/pip{mode}" for mode in ("", "+inprocess-build-deps", "+venv-isolation")),
            "metapath/py3.12/pip26.3/pip+inprocess-build-deps+venv-isolation",
            # build and uv run once per Python, in the newest pip that Python can run.
            "metapath/py3.9/pip25.0/build==1.2.2",
            *(f"metapath/py3.9/pip25.0/build=={r}" for r in ("1.4.2", "1.4.3", "1.4.4", "1.6.1")),
            *(f"metapath/py3.12/pip26.3/build=={r}" for r in ("1.2.2", "1.4.2", "1.4.3", "1.4.4", "1.6.1")),
            "metapath/py3.9/pip25.0/uv==0.9.5",
            "metapath/py3.9/pip25.0/uv==0.13.9",
            "metapath/py3.12/pip26.3/uv==0.9.5",
            "metapath/py3.12/pip26.3/uv==0.13.9",
        ]
    )
    reasons = {c.id: c.not_applicable for c in cells}
    assert "pypa/build isolates in its own venv" in (reasons["metapath/py3.12/pip24.0/build==1.4.4"] or "")
    by_id = {c.id: c for c in cells}
    assert by_id["metapath/py3.12/pip26.3/pip+venv-isolation"].expected is Verdict.HELD
    assert by_id["metapath/py3.12/pip26.3/pip"].expected is Verdict.LEAKED
    with pytest.raises(InputError, match="--frontend poetry: not a frontend; known: pip, build, uv"):
        plan(metapath, matrix, facts=FakeFacts(requires), frontends=["poetry"])


def test_driver_spec_carries_the_frontend(metapath: Scenario) -> None:
    data = spec.for_scenario(metapath, Path("pip-26.3-py3-none-any.whl"), frontend="uv").to_json()
    assert data["frontend_module"] == "uv"
    assert data["frontend_requirements"] == ["uv"]
    assert data["action_args"][:2] == ["pip", "install"]
    assert data["frontend_env"]["UV_OFFLINE"] == "1"
    assert data["backend"] == {"spec": "my_backend", "path": ["."]}


SCENARIO = """\
name: s
summary: "one line"
references: [https://example.org/1]
project:
  name: p
  files: {{pyproject.toml: "[build-system]\\nrequires = []\\n"}}
action:
  frontend: pip
  args: [install, "{{project_url}}"]
{extra}
expect:
  - verdict: held
    frontend: {frontend}
"""


def test_skip_frontends_and_expectations_per_frontend(tmp_path: Path, matrix: Matrix) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(extra="skip-frontends: {build: 'no such option there'}", frontend="[pip, uv]"))
    scenario = load_scenario(path)
    cells = {c.id: c for c in plan(scenario, matrix, facts=FakeFacts(requires), pythons=["3.12"], pips=["26.3"])}
    assert cells["s/py3.12/pip26.3/build==1.4.2"].not_applicable == "no such option there"
    assert cells["s/py3.12/pip26.3/uv==0.9.5"].expected is Verdict.HELD
    assert cells["s/py3.12/pip26.3/pip+venv-isolation"].expected is Verdict.HELD


def test_expectations_by_mode_and_frontend_release(tmp_path: Path, matrix: Matrix) -> None:
    path = tmp_path / "s.yaml"
    text = SCENARIO.format(extra="", frontend="[pip, 'build>=1.4.4']")
    text += (
        "  - {verdict: leaked, frontend: pip, mode: [venv-isolation]}\n  - {verdict: broke, frontend: 'build<1.4.4'}\n"
    )
    text = text.replace("  - verdict: held\n    frontend: [pip, 'build>=1.4.4']\n", "") + (
        "  - {verdict: held, frontend: [pip, 'build>=1.4.4']}\n"
    )
    path.write_text(text)
    scenario = load_scenario(path)
    cells = {c.id: c for c in plan(scenario, matrix, facts=FakeFacts(requires), pythons=["3.12"], pips=["26.3"])}
    assert cells["s/py3.12/pip26.3/pip+venv-isolation"].expected is Verdict.LEAKED
    assert cells["s/py3.12/pip26.3/pip+inprocess-build-deps"].expected is Verdict.HELD
    assert cells["s/py3.12/pip26.3/build==1.4.3"].expected is Verdict.BROKE
    assert cells["s/py3.12/pip26.3/build==1.4.4"].expected is Verdict.HELD
    assert cells["s/py3.12/pip26.3/uv==0.9.5"].expected is None


@pytest.mark.parametrize(
    ("extra", "frontend", "message"),
    [
        ("skip-frontends: {pip: 'x'}", "pip", "key 'skip-frontends.pip': 'pip' is not one of build, uv"),
        ("skip-frontends: {uv: ''}", "pip", "say why"),
        ("", "poetry", "'poetry' is not one of pip, build, uv"),
        (
            "",
            "pip-venv",
            "'pip-venv' is now frontend pip in mode venv-isolation; write frontend: pip and mode: venv-isolation",
        ),
        ("", "'pip>=26'", "pip's releases are the pip axis; put the specifier under pip:"),
        ("", "'build>=x'", "'>=x' is not a version specifier"),
    ],
)
def test_bad_frontend_keys(tmp_path: Path, extra: str, frontend: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(extra=extra, frontend=frontend))
    with pytest.raises(ConfigError, match=message):
        load_scenario(path)


class _Engine:
    """Only what planning asks of an engine."""

    def __init__(self, isolation: str) -> None:
        self.isolation = isolation

    def info(self) -> EngineInfo:
        return EngineInfo(name="fake", isolation=self.isolation)  # type: ignore[arg-type]

    def check_python(self, python: str) -> str:
        return python + ".0"


def test_base_installs_run_only_where_the_base_is_thrown_away(matrix: Matrix) -> None:
    from tests.conftest import SCENARIOS

    scenario = load_scenario(SCENARIOS / "system-site-packages.yaml")

    def request(isolation: str) -> RunRequest:
        return RunRequest(
            [scenario],
            matrix,
            _Engine(isolation),  # type: ignore[arg-type]
            FakeFacts(requires),  # type: ignore[arg-type]
            pythons=["3.12"],
            pips=["26.3"],
            frontends=["pip"],
            modes=["default"],
        )

    local = runner.plan_cells(request("process"))
    assert [c.not_applicable for c, _ in local] == [
        "the scenario uses the base interpreter's site-packages: only a container's is clean and disposable"
    ]
    docker = runner.plan_cells(request("container"))
    assert [c.not_applicable for c, _ in docker] == [None]
