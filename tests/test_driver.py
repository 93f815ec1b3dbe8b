"""The cell driver on tiny specs: no docker, no network, no pip.

Whole runs start the driver as the engines do (``python -I -S driver.py SPEC.json``) on a prepared
image made here: a venv without pip, whose "frontend" is a stand-in module that writes a report as the
probe would. The step functions are called directly with a cell context in a temporary folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.probe import CANARY_MODULE, DRIVER
from isolation_harness.probe import _driver_base as base
from isolation_harness.probe import driver as drv
from isolation_harness.steps import READERS

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
PURELIB = Path("lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
VERSION_FAULT = "driver spec version {}, this driver reads version 3: the harness and its driver disagree"

# The frontend stand-in: reports its arguments and what the run's environment says, as the probe does.
FRONTEND = """\
import json, os, sys
probe = os.environ["ISOLATION_PROBE_DIR"]
os.makedirs(probe, exist_ok=True)
with open(os.path.join(probe, "frontend.json"), "w") as fh:
    json.dump({"kind": "frontend", "args": sys.argv[1:], "var": os.environ.get("IH_TEST_VAR"),
               "target": os.environ.get("FAKE_TARGET"), "backend": os.environ["ISOLATION_PROBE_BACKEND"],
               "backend_path": os.environ["ISOLATION_PROBE_BACKEND_PATH"]}, fh)
"""


def make_spec(tmp_path: Path, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A spec as cell.driver_spec and an engine make it, for a project `demo` offered as a path."""
    spec: dict[str, Any] = {
        "spec_version": 3,
        "leading_installs": 0,
        "project": {
            "name": "demo",
            "offer": "path",
            "files": {"pyproject.toml": "[project]\nname = 'demo'\nversion = '1'\n", "demo/__init__.py": ""},
            "binary_files": {"demo/data.bin": "AAEC"},
            "outside": {"release/_planted.py": "PLANTED = True\n"},
            "links": {"demo/release": "{cell}/release"},
            "dev_wheels": [],
        },
        "pip_wheel": "pip-24.0-py3-none-any.whl",
        "steps": steps,
        "run_timeout": 60,
        "canary_source": CANARY_MODULE.read_text(),
        "backend": {"spec": "demo_backend", "path": ["."]},
        "frontend": "pip",
        "frontend_module": "_fake_frontend",
        "frontend_requirements": [],
        "frontend_roots": ["pip"],
        "frontend_env": {"FAKE_TARGET": "{target}"},
        "action_args": ["install", "--target", "{target}", "{project_url}"],
        "wheelhouse_hidden": [],
        "cell_dir": str(tmp_path / "cell"),
        "out_dir": str(tmp_path / "out"),
        "wheelhouse": str(tmp_path / "wheels"),
        "system_path": SYSTEM_PATH,
    }
    spec.update(extra)
    return spec


def prepared_image(tmp_path: Path, delta: bool = False) -> Path:
    """What `driver.py --prepare` leaves in an image, without pip: the clean venv at the cell's path
    (here with the frontend stand-in) and meta.json; with ``delta``, an install's changes to lay over it."""
    cell_venv = tmp_path / "cell" / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(cell_venv)
    (cell_venv / PURELIB / "_fake_frontend.py").write_text(FRONTEND)
    (cell_venv / "bin" / "removed-by-install").write_text("")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    meta = {
        "key": "key-1",
        "purelib": str(cell_venv / PURELIB),
        "pip_version_output": "pip 0 (stand-in)",
        "deleted": ["bin/removed-by-install"] if delta else [],
    }
    (prepared / "meta.json").write_text(json.dumps(meta))
    if delta:
        (prepared / "delta" / PURELIB).mkdir(parents=True)
        (prepared / "delta" / PURELIB / "installed_by_step.py").write_text("")
    return prepared


def run_driver(spec: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """The driver as the local engine starts it: isolated, no site, a scrubbed environment."""
    cell = Path(spec["cell_dir"])
    cell.mkdir(parents=True, exist_ok=True)
    spec_file = cell.parent / "spec.json"
    spec_file.write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, "-I", "-S", str(DRIVER), str(spec_file), *args],
        env={"PATH": SYSTEM_PATH, "HOME": str(cell), "LANG": "C.UTF-8"},
        cwd=cell,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def result_of(spec: dict[str, Any]) -> dict[str, Any]:
    proc = run_driver(spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads((Path(spec["out_dir"]) / "result.json").read_text())
    # When the cell's turn began (epoch seconds): now, give or take the driver's own run.
    assert abs(result.pop("began") - time.time()) < 60, result
    return result


def reports(run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in run["reports"] if r.get("kind") == kind]


# -- the contract ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 4, None])
def test_a_spec_of_another_version_is_a_fault_before_anything_is_made(tmp_path: Path, version: int | None) -> None:
    spec = make_spec(tmp_path, [])
    if version is None:
        del spec["spec_version"]
    else:
        spec["spec_version"] = version
    del spec["project"]  # the version is checked before anything else is read
    assert result_of(spec) == {
        "driver_version": drv.DRIVER_VERSION,
        "fault": VERSION_FAULT.format(version),
        "phases": {},
        "steps": [],
    }
    assert not (tmp_path / "cell" / "home").exists()


def test_prepare_refuses_a_spec_of_another_version(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, [], spec_version=2, prepared=str(tmp_path / "prepared"), prepare_key="k")
    proc = run_driver(spec, "--prepare")
    assert proc.returncode == 3
    assert proc.stderr == VERSION_FAULT.format(2) + "\n"
    assert not (tmp_path / "prepared").exists()


def test_driver_reads_the_version_the_harness_writes() -> None:
    assert base.SPEC_VERSION == 3
    assert base._contract({"spec_version": 3, "leading_installs": 0, "steps": []}) is None


INSTALL = {"kind": "install", "requirements": ["x"], "into": "host"}
PTH = {"kind": "pth", "name": "a.pth", "lines": ["import x"]}


@pytest.mark.parametrize(
    ("leading", "steps"),
    [
        (None, [INSTALL]),  # missing
        ("1", [INSTALL]),
        (True, [INSTALL]),
        (-1, [INSTALL]),
        (2, [INSTALL]),  # more than there are steps
        (1, [PTH, INSTALL]),  # a step before an install could change what it does
        (1, [dict(INSTALL, into="user")]),  # only installs into the host venv are prepared
    ],
)
def test_leading_installs_must_count_host_installs_that_open_the_steps(leading: object, steps: list[Any]) -> None:
    spec: dict[str, Any] = {"spec_version": 3, "steps": steps}
    if leading is not None:
        spec["leading_installs"] = leading
    fault = base._contract(spec)
    assert fault is not None
    assert fault.startswith(f"driver spec leading_installs {leading!r} does not count")


@pytest.mark.parametrize(
    ("leading", "steps"), [(0, [PTH, INSTALL]), (1, [INSTALL, INSTALL, PTH]), (2, [INSTALL, INSTALL])]
)
def test_leading_installs_may_count_fewer_than_open_the_steps(leading: int, steps: list[Any]) -> None:
    assert base._contract({"spec_version": 3, "leading_installs": leading, "steps": steps}) is None


def test_the_driver_has_a_step_for_every_kind_a_scenario_may_use() -> None:
    assert set(drv.STEPS) == set(READERS)


# -- whole runs on a prepared image ---------------------------------------------------------------


def test_a_prepared_cell_runs_control_contamination_and_experiment(tmp_path: Path) -> None:
    steps: list[dict[str, Any]] = [
        {"kind": "install", "requirements": ["not-installed-here"], "into": "host"},  # in the delta
        {"kind": "pth", "name": "planted.pth", "lines": ["{cell}/release", "import _planted"]},
        {"kind": "editable-finder", "module": "demo"},
        {"kind": "env", "variables": [["IH_TEST_VAR", "{target}"]]},
        {"kind": "pip-config", "sections": [["global", [["no-deps", "true"]]]]},
        {"kind": "venv-config", "system_site_packages": False},
    ]
    prepared = prepared_image(tmp_path, delta=True)
    spec = make_spec(tmp_path, steps, prepared=str(prepared), leading_installs=1)
    result = result_of(spec)
    cell = tmp_path / "cell"
    vpy, purelib, src = str(cell / "venv" / "bin" / "python"), str(cell / "venv" / PURELIB), str(cell / "src" / "demo")
    assert "fault" not in result
    assert sorted(result) == [
        "driver_version",
        "git_version",
        "phases",
        "pip_version_output",
        "prepared",
        "python",
        "roots",
        "runs",
        "steps",
    ]
    assert result["driver_version"] == drv.DRIVER_VERSION
    assert result["python"]["executable"] == sys.executable
    assert (result["prepared"], result["pip_version_output"]) == ("key-1", "pip 0 (stand-in)")
    assert result["steps"] == ["0:install", "1:pth", "2:editable-finder", "3:env", "4:pip-config", "5:venv-config"]
    assert set(result["phases"]) == {"project", "environment", "control", "contamination", "experiment"}
    # The project as written: text, binary, outside and links.
    assert (cell / "src" / "demo" / "demo" / "data.bin").read_bytes() == b"\x00\x01\x02"
    assert (cell / "src" / "demo" / "demo" / "release").resolve() == (cell / "release").resolve()
    # The install step came from the delta: laid over the venv, its deletions applied, pip not run.
    assert (cell / "venv" / PURELIB / "installed_by_step.py").exists()
    assert not (cell / "venv" / "bin" / "removed-by-install").exists()
    assert not (tmp_path / "out" / "setup.log").exists()
    control, experiment = result["runs"]["control"], result["runs"]["experiment"]
    assert set(result["runs"]) == {"control", "experiment"}
    for name, run in result["runs"].items():
        target = str(cell / ("target-" + name))
        assert run["argv"] == [vpy, "-m", "_fake_frontend", "install", "--target", target, src]
        assert (run["exit_code"], run["timed_out"], run["log"]) == (0, False, name + "/output.log")
        [report] = reports(run, "frontend")
        assert (report["target"], report["backend"], report["backend_path"]) == (target, "demo_backend", '["."]')
    assert reports(control, "frontend")[0]["var"] is None
    assert reports(experiment, "frontend")[0]["var"] == str(cell / "target-experiment")
    assert not reports(control, "canary")
    assert {r["step"] for r in reports(experiment, "canary")} == {"1:pth", "2:editable-finder"}
    host = result["roots"]["host"]
    assert host[:3] == [purelib, str(cell / "editable" / "demo"), str(cell / "home")]
    assert host[5:] == [str(cell / "release")]
    assert result["roots"]["frontend"] == [str(Path(purelib) / "pip")]
    assert result["roots"]["project"] == src
    assert result["roots"]["code_steps"] == ["1:pth", "2:editable-finder"]


def test_a_control_only_cell_stops_after_the_control(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, [PTH], prepared=str(prepared_image(tmp_path)), control_only=True)
    result = result_of(spec)
    purelib = str(tmp_path / "cell" / "venv" / PURELIB)
    assert "fault" not in result
    assert list(result["runs"]) == ["control"]
    assert set(result["phases"]) == {"project", "environment", "control"}
    assert result["steps"] == []
    assert result["roots"] == {
        "host": [purelib, str(tmp_path / "cell" / "home")],
        "frontend": [str(Path(purelib) / "pip")],
        "project": str(tmp_path / "cell" / "src" / "demo"),
    }


@pytest.mark.skipif(shutil.which("git", path=SYSTEM_PATH) is None, reason="needs git")
def test_a_vcs_project_is_offered_as_a_git_url(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, [], prepared=str(prepared_image(tmp_path)), control_only=True)
    spec["project"]["offer"] = "vcs"
    result = result_of(spec)
    src = tmp_path / "cell" / "src" / "demo"
    assert result["runs"]["control"]["argv"][-1] == f"git+file://{src}#egg=demo"
    assert (src / ".git").is_dir()
    assert result["git_version"].startswith("git version")


@pytest.mark.parametrize(("leading", "delta"), [(0, True), (1, False)])
def test_install_steps_not_in_the_image_run_here(tmp_path: Path, leading: int, delta: bool) -> None:
    # The venv has no pip, so an install run here fails: the step was not taken from the image.
    steps = [{"kind": "install", "requirements": ["a", "b"], "into": "host"}, PTH]
    spec = make_spec(tmp_path, steps, prepared=str(prepared_image(tmp_path, delta)), leading_installs=leading)
    result = result_of(spec)
    assert result["fault"] == "contamination step 0:install failed: pip install a b (see setup.log)"
    assert result["steps"] == []
    assert list(result["runs"]) == ["control"]
    assert "No module named pip" in (tmp_path / "out" / "setup.log").read_text()


def test_a_contamination_that_does_not_take_effect_is_a_fault(tmp_path: Path) -> None:
    # site reads only files ending in .pth: this one never runs its canary.
    steps = [{"kind": "pth", "name": "planted.pth.off", "lines": ["import os"]}]
    result = result_of(make_spec(tmp_path, steps, prepared=str(prepared_image(tmp_path))))
    assert result["fault"] == "contamination did not take effect in the host environment: ['0:pth']"
    assert result["steps"] == ["0:pth"]
    assert set(result["phases"]) == {"project", "environment", "control"}
    assert "roots" not in result


def test_a_failed_dev_wheel_is_a_fault_before_the_control(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, [], prepared=str(prepared_image(tmp_path)))
    spec["project"]["dev_wheels"] = ["release"]
    result = result_of(spec)
    assert result["fault"] == "building the wheel of release failed (see setup.log)"
    assert "runs" not in result
    assert result["prepared"] == "key-1"


# -- the steps, called with a cell context ---------------------------------------------------------


@pytest.fixture
def cell(tmp_path: Path) -> drv._Cell:
    c = drv._Cell({"cell_dir": str(tmp_path / "cell"), "out_dir": str(tmp_path / "out")})
    c.env = {"PIP_FIND_LINKS": str(tmp_path / "wheels"), "PATH": SYSTEM_PATH}
    c.src = str(tmp_path / "cell" / "src" / "demo")
    c.editable_dir = str(tmp_path / "cell" / "editable" / "demo")
    c.purelib = str(tmp_path / "cell" / "venv" / PURELIB)
    c.project_url = c.src
    c.label = "3:step"
    (tmp_path / "cell").mkdir()
    (tmp_path / "out").mkdir()
    return c


@pytest.mark.parametrize(
    ("lines", "code", "roots"),
    [
        (["import _planted", "{cell}/release"], True, ["release"]),
        (["import\t_planted"], True, []),
        (["{cell}/a", "# a comment", "{cell}/b"], False, ["a", "b"]),
        (["#import _planted"], False, []),
    ],
)
def test_pth_step_puts_the_canary_first(cell: drv._Cell, lines: list[str], code: bool, roots: list[str]) -> None:
    assert drv._step(cell, {"kind": "pth", "name": "x.pth", "lines": lines}) is None
    text = (Path(cell.purelib) / "x.pth").read_text()
    filled = [line.replace("{cell}", cell.cell) for line in lines]
    assert text.splitlines() == ["import _ih_canary; _ih_canary.mark('3:step')", *filled]
    assert cell.planted == ["3:step"]
    assert cell.code_steps == (["3:step"] if code else [])
    assert cell.extra_roots == [str(Path(cell.cell) / r) for r in roots]


def test_editable_finder_step_plants_a_finder_for_a_copy_of_the_project(cell: drv._Cell) -> None:
    (Path(cell.src) / "demo").mkdir(parents=True)
    (Path(cell.src) / "demo" / "__init__.py").write_text("")
    (Path(cell.src) / ".git").mkdir()
    assert drv._step(cell, {"kind": "editable-finder", "module": "demo"}) is None
    assert (Path(cell.editable_dir) / "demo" / "__init__.py").exists()
    assert not (Path(cell.editable_dir) / ".git").exists()
    pth = (Path(cell.purelib) / "__editable__.demo.pth").read_text().splitlines()
    assert pth == [
        "import _ih_canary; _ih_canary.mark('3:step')",
        "import _editable_impl_demo; _editable_impl_demo.install()",
    ]
    assert (
        repr(str(Path(cell.editable_dir) / "demo" / "__init__.py"))
        in (Path(cell.purelib) / "_editable_impl_demo.py").read_text()
    )
    assert (cell.planted, cell.code_steps) == (["3:step"], ["3:step"])


def test_pip_config_step_writes_the_sections_in_order(cell: drv._Cell) -> None:
    sections = [["install", [["no-deps", "true"]]], ["global", [["target", "{target}"], ["timeout", "5"]]]]
    assert drv._step(cell, {"kind": "pip-config", "sections": sections}) is None
    text = (Path(cell.home) / ".config" / "pip" / "pip.conf").read_text()
    target = str(Path(cell.cell) / "target-experiment")
    assert text == f"[install]\nno-deps = true\n[global]\ntarget = {target}\ntimeout = 5\n"
    assert (cell.planted, cell.code_steps, cell.extra_roots) == ([], [], [])


@pytest.mark.parametrize("flag", [True, False])
def test_venv_config_step_sets_system_site_packages(cell: drv._Cell, flag: bool) -> None:
    cfg = Path(cell.venv) / "pyvenv.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n")
    assert drv._step(cell, {"kind": "venv-config", "system_site_packages": flag}) is None
    expected = f"home = /usr/bin\nversion = 3.11.7\ninclude-system-site-packages = {str(flag).lower()}\n"
    assert cfg.read_text() == expected


def test_env_step_sets_variables_for_the_experiment_only(cell: drv._Cell) -> None:
    env = dict(cell.env)
    assert drv._step(cell, {"kind": "env", "variables": [["A", "1"], ["B", "{target}"]]}) is None
    assert drv._step(cell, {"kind": "env", "variables": [["A", "2"]]}) is None
    assert cell.experiment_env == {"A": "2", "B": "{target}"}  # filled when the experiment runs
    assert cell.env == env


@pytest.mark.skipif(shutil.which("false") is None, reason="needs false(1)")
def test_a_failed_install_step_is_a_fault(cell: drv._Cell) -> None:
    cell.vpy = str(shutil.which("false"))
    fault = drv._step(cell, {"kind": "install", "requirements": ["a==1", "b"], "into": "host"})
    assert fault == "contamination step 3:step failed: pip install a==1 b (see setup.log)"
    assert f"$ {cell.vpy} -m pip install a==1 b" in Path(cell.setup_log).read_text()


def test_an_unknown_step_kind_is_a_fault(cell: drv._Cell) -> None:
    assert drv._step(cell, {"kind": "bogus"}) == "unknown contamination step 'bogus'"
    assert (cell.planted, cell.steps_done) == ([], [])


def test_prepare_environment_is_the_cells_without_what_prepare_never_had(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, [])
    cell_env, prepare_env = drv._environment(spec, spec["cell_dir"]), drv._prepare_environment(spec, spec["cell_dir"])
    assert set(cell_env) - set(prepare_env) == {"TMPDIR", "PIP_NO_INPUT", "GIT_CONFIG_NOSYSTEM"}
    assert set(prepare_env) - set(cell_env) == {"PIP_NO_CACHE_DIR"}
    assert prepare_env["PATH"] == SYSTEM_PATH
    assert cell_env["PATH"] == str(tmp_path / "cell" / "venv" / "bin") + ":" + SYSTEM_PATH
    shared = set(cell_env) & set(prepare_env) - {"PATH"}
    assert {k: cell_env[k] for k in shared} == {k: prepare_env[k] for k in shared}


# -- the editable step, with a stand-in pip run from its unpacked "wheel" --------------------------

# What a real editable install leaves in site-packages, per FAKE_EDITABLE: setuptools' finder (a .pth
# importing a module that appends a MetaPathFinder), flit's path .pth, nothing, or a failure.
FAKE_PIP = """\
import os, sys
purelib, mode = os.environ["FAKE_PURELIB"], os.environ["FAKE_EDITABLE"]
with open(os.path.join(purelib, "..", "argv.txt"), "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
if "-e" not in sys.argv:  # installing the build tools first (build-isolation: false)
    sys.exit(0)
source = sys.argv[sys.argv.index("-e") + 1]
if mode == "fail":
    sys.exit(1)
if mode == "finder":
    with open(os.path.join(purelib, "__editable___demo_1_0_finder.py"), "w") as fh:
        fh.write("import sys\\nclass _EditableFinder: pass\\n")
        fh.write("def install():\\n    sys.meta_path.append(_EditableFinder)\\n")
    with open(os.path.join(purelib, "__editable__.demo-1.0.pth"), "w") as fh:
        fh.write("import __editable___demo_1_0_finder; __editable___demo_1_0_finder.install()\\n")
if mode == "path":
    with open(os.path.join(purelib, "demo.pth"), "w") as fh:
        fh.write(source + "\\n")
"""


@pytest.fixture
def editable_cell(cell: drv._Cell, tmp_path: Path) -> drv._Cell:
    import zipfile

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "pip-26.3-py3-none-any.whl", "w") as whl:
        whl.writestr("pip/__main__.py", FAKE_PIP)
    Path(cell.purelib).mkdir(parents=True)
    cell.spec = {"wheelhouse": str(wheels), "editable_pip_wheel": "pip-26.3-py3-none-any.whl"}
    cell.vpy = sys.executable
    cell.timeout = 60
    cell.env = dict(cell.env, FAKE_PURELIB=cell.purelib)
    return cell


def _editable(cell: drv._Cell, mode: str, **step: Any) -> str | None:
    cell.env["FAKE_EDITABLE"] = mode
    files = [["pyproject.toml", "[project]\nname = 'demo'\n"], ["demo.py", ""]]
    return drv._step(cell, {"kind": "editable", "sdist": None, "files": files, "config_settings": [], **step})


def test_editable_step_leads_the_planted_pth_with_the_canary_and_counts_its_code(editable_cell: drv._Cell) -> None:
    assert _editable(editable_cell, "finder", config_settings=[["editable_mode", "strict"]]) is None
    where = str(Path(editable_cell.cell) / "editable" / "3-step")
    assert (Path(where) / "demo.py").exists()
    pth = (Path(editable_cell.purelib) / "__editable__.demo-1.0.pth").read_text().splitlines()
    assert pth == [
        "import _ih_canary; _ih_canary.mark('3:step')",
        "import __editable___demo_1_0_finder; __editable___demo_1_0_finder.install()",
    ]
    assert (editable_cell.planted, editable_cell.code_steps) == (["3:step"], ["3:step"])
    assert editable_cell.extra_roots == [where]
    assert editable_cell.editable_installs == {"3:step": ["__editable__.demo-1.0.pth"]}
    argv = (Path(editable_cell.purelib) / ".." / "argv.txt").read_text()
    assert argv == f"install --no-input -e {where} --config-settings editable_mode=strict\n"
    finder = (Path(editable_cell.purelib) / "__editable___demo_1_0_finder.py").read_text()
    assert "sys.meta_path.append(_EditableFinder)" in finder  # as installed: not moved


def test_editable_step_can_put_the_finder_first(editable_cell: drv._Cell) -> None:
    assert _editable(editable_cell, "finder", meta_path_first=True) is None
    finder = (Path(editable_cell.purelib) / "__editable___demo_1_0_finder.py").read_text()
    assert "sys.meta_path.insert(0, _EditableFinder)" in finder
    assert "append" not in finder


def test_a_path_pth_of_an_editable_install_is_host_code_but_runs_none(editable_cell: drv._Cell) -> None:
    assert _editable(editable_cell, "path") is None
    where = str(Path(editable_cell.cell) / "editable" / "3-step")
    assert (editable_cell.planted, editable_cell.code_steps) == (["3:step"], [])
    assert editable_cell.extra_roots == [where, where]


@pytest.mark.parametrize(
    ("mode", "step", "fault"),
    [
        ("fail", {}, "contamination step 3:step failed: pip install -e {where} (see setup.log)"),
        ("none", {}, "contamination step 3:step: the editable install planted no .pth file (see setup.log)"),
        (
            "path",
            {"meta_path_first": True},
            "contamination step 3:step: meta-path: first, but the install planted no finder appended to sys.meta_path",
        ),
        (
            "path",
            {"sdist": "demo==1.0"},
            "contamination step 3:step: no source distribution of demo==1.0 in the wheel directory",
        ),
    ],
)
def test_an_editable_install_that_does_not_plant_what_it_should_is_a_fault(
    editable_cell: drv._Cell, mode: str, step: dict[str, Any], fault: str
) -> None:
    where = str(Path(editable_cell.cell) / "editable" / "3-step")
    assert _editable(editable_cell, mode, **step) == fault.format(where=where)
    assert editable_cell.planted == []


def test_editable_step_unpacks_the_release_from_the_wheel_directory(editable_cell: drv._Cell) -> None:
    import io
    import tarfile

    with tarfile.open(Path(editable_cell.spec["wheelhouse"]) / "Demo_Pkg-1.0.tar.gz", "w:gz") as tar:
        data = b"[project]\nname = 'demo-pkg'\n"
        info = tarfile.TarInfo("demo_pkg-1.0/pyproject.toml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert _editable(editable_cell, "path", sdist="demo.pkg==1.0", files=[]) is None
    where = Path(editable_cell.cell) / "editable" / "3-step"
    assert (where / "pyproject.toml").read_text() == "[project]\nname = 'demo-pkg'\n"


def test_the_wheel_view_drops_what_a_prepared_image_showed_and_this_cell_hides(tmp_path: Path) -> None:
    """A prepared image keeps the view of the cell that prepared it; zipp's sdist, fetched since for a
    diagnosed project, stayed visible through it and pip 25.0 on 3.8 built zipp from source."""
    wheels, cell = tmp_path / "wheels", tmp_path / "cell"
    wheels.mkdir()
    for name in ("zipp-3.21.0.tar.gz", "zipp-3.20.2-py3-none-any.whl", "build-1.6.1-py3-none-any.whl"):
        (wheels / name).write_text("")
    (cell / "wheels").mkdir(parents=True)
    (cell / "wheels" / "zipp-3.21.0.tar.gz").symlink_to(wheels / "zipp-3.21.0.tar.gz")  # the image's
    spec = {"wheelhouse": str(wheels), "wheelhouse_hidden": ["zipp-3.21.0.tar.gz", "build-1.6.1-py3-none-any.whl"]}
    view = base._wheel_view(spec, str(cell))
    assert sorted(p.name for p in Path(view).iterdir()) == ["zipp-3.20.2-py3-none-any.whl"]


def test_editable_step_without_build_isolation_installs_the_tools_first(editable_cell: drv._Cell) -> None:
    """meson-python's documented way: the build tools into the host venv, then --no-build-isolation."""
    assert _editable(editable_cell, "finder", requires=["meson", "ninja"], build_isolation=False) is None
    where = str(Path(editable_cell.cell) / "editable" / "3-step")
    argv = (Path(editable_cell.purelib) / ".." / "argv.txt").read_text().splitlines()
    assert argv == ["install --no-input meson ninja", f"install --no-input --no-build-isolation -e {where}"]
