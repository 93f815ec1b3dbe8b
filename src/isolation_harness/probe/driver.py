"""Cell driver: prepares one fresh environment and runs the control and the experiment in it.

Runs inside the engine (a container, or a scrubbed temporary folder for the local engine) under the
base interpreter being tested, started as ``python -I -S driver.py SPEC.json``, so nothing of any
site-packages touches it. Standard library only; must run on Python 3.8. It writes ``result.json``
(and the logs) into the spec's ``out_dir``; the harness turns that into facts and a verdict.

Usage: python -I -S driver.py SPEC.json [--prepare | --when GO]

With ``--when GO`` the driver starts, then waits until the file GO exists before it reads the spec:
the engine starts a cell's container ahead of its turn and hands it the spec and GO together when a
running slot frees, so starting and removing containers is not on the cells' clock (issue 19).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import sys
import time

MYPY = False
if MYPY:  # pragma: no cover - for the type comments only
    import subprocess  # noqa: F401

# The driver is this file and its _driver_*.py siblings; started as a script with -I, its own folder
# is not on sys.path.
if __package__:
    from . import _driver_base as base
    from . import _driver_index as index
    from . import _driver_project as project
    from . import _driver_steps as steps
else:  # pragma: no cover - a script in a cell
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _driver_base as base  # type: ignore[no-redef,import-not-found,unused-ignore]
    import _driver_index as index  # type: ignore[no-redef,import-not-found,unused-ignore]
    import _driver_project as project  # type: ignore[no-redef,import-not-found,unused-ignore]
    import _driver_steps as steps  # type: ignore[no-redef,import-not-found,unused-ignore]

DRIVER_VERSION, STEPS, _step = base.DRIVER_VERSION, steps.STEPS, steps._step


def main(spec_path):  # type: (str) -> int
    signal.signal(signal.SIGTERM, base._on_term)
    with open(spec_path) as fh:
        spec = json.load(fh)
    c = _Cell(spec)
    os.makedirs(c.out, exist_ok=True)
    fault = base._contract(spec)
    if fault is None:
        try:
            fault = _phases(c)
        finally:
            index.stop(c)
    if fault is not None:
        return base._fault(c.result, c.out, fault)
    return base._finish(c.result, c.out)


def _phases(c):  # type: (_Cell) -> str | None
    """The cell, phase by phase: None when it ran to the end, else the fault that stopped it."""
    _setup(c)
    # 1. the project, as a git repository the frontend clones or as a plain folder
    project.write(c)
    fault = project.offer(c)
    if fault is not None:
        return fault
    c.mark("project")
    c.result["git_version"] = base._output(["git", "--version"], c.env)
    # 2. a fresh venv with the pip under test (and the frontend), and wheels of backends in development
    fault = _venv(c) or _dev_wheels(c)
    if fault is not None:
        return fault
    # 2b. the package index the scenario needs, a real server on loopback (its failure is the cell's)
    if c.spec.get("index"):
        fault = index.start(c)
        if fault is not None:
            return fault
    c.result["runs"] = c.runs
    # 3. the control: the same action in the same fresh environment, before any contamination
    c.mark("environment")
    _action(c, "control", {})
    c.mark("control")
    if c.spec.get("control_only"):  # diagnose: only the clean build is wanted
        c.result["roots"] = _roots(c)
        return None
    # 4. the contamination, step by step, and the check that it took effect in the host
    fault = _contaminate(c) or _contamination_check(c)
    if fault is not None:
        return fault
    # 5. the experiment
    c.mark("contamination")
    _action(c, "experiment", c.experiment_env, user=True)
    c.mark("experiment")
    c.result["roots"] = _roots(c)
    return None


class _Cell:
    """What the phases and the contamination steps of one cell share: its paths, its environment,
    the venv under test and what the result has gathered so far."""

    def __init__(self, spec):  # type: (dict) -> None
        self.spec = spec
        self.cell = spec["cell_dir"]  # type: str
        self.out = spec["out_dir"]  # type: str
        self.home = os.path.join(self.cell, "home")
        self.venv = os.path.join(self.cell, "venv")
        self.setup_log = os.path.join(self.out, "setup.log")
        self.requirements_file = os.path.join(self.cell, "requirements.txt")  # an sdist offer's, hashed
        # Filled by _setup, _offer_project and _venv, once the spec is known to be one this driver reads.
        self.src = ""
        self.editable_dir = ""
        self.env = {}  # type: dict[str, str]
        self.timeout = 0.0
        self.project_url = ""
        self.vpy = ""
        self.purelib = ""
        self.meta = {}  # type: dict  # the prepared image's meta.json
        # The contamination: the step being applied (its label) and what the steps did.
        self.label = ""
        self.experiment_env = {}  # type: dict[str, str]
        self.experiment_args = []  # type: list[str]  # the user's options on the command line
        self.experiment_unset = []  # type: list[str]  # variables those options replace
        self.experiment_stdin = None  # type: str | None  # what the user types when asked
        self.index = dict(index.NO_INDEX)  # type: dict[str, str]  # the package index's placeholders
        self.index_proc = None  # type: subprocess.Popen[bytes] | None
        self.planted = []  # type: list[str]
        self.code_steps = []  # type: list[str]
        self.extra_roots = []  # type: list[str]  # host code outside the venv: user site, base, .pth folders
        self.editable_installs = {}  # type: dict[str, list[str]]  # step label -> the .pth files it planted
        self.runs = {}  # type: dict[str, object]
        self.steps_done = []  # type: list[str]
        self.phases = {}  # type: dict[str, float]
        self.start = time.monotonic()
        self.result = {
            "driver_version": base.DRIVER_VERSION,
            "steps": self.steps_done,
            "phases": self.phases,
            # When the cell's turn began (epoch seconds; the phases count from it): cells that wait
            # for a running slot (driver.py --when) show here that they did not overlap it.
            "began": round(time.time(), 3),
        }  # type: dict[str, object]

    def mark(self, name):  # type: (str) -> None
        """Record that the phase ``name`` ended now (seconds since the start)."""
        self.phases[name] = round(time.monotonic() - self.start, 3)

    def values(self, run):  # type: (str) -> dict[str, str]
        """What the spec's {placeholders} stand for in the run called ``run``."""
        return {
            "cell": self.cell,
            "project_dir": self.src,
            "project_url": self.project_url,
            "project_requirements": self.requirements_file,
            "wheelhouse": self.env["PIP_FIND_LINKS"],
            "path": self.env["PATH"],
            "host_site": self.purelib,
            "target": os.path.join(self.cell, "target-" + run),
            "run": os.path.join(self.out, run),
            **self.index,
        }


def _environment(spec, cell):  # type: (dict, str) -> dict[str, str]
    """The environment of a cell's setup, steps and runs: the base, with the cell's venv first on
    PATH, temporary files in the cell, no prompts, and git without the machine's configuration."""
    env = base._base_env(spec, cell)
    env["PATH"] = os.path.join(cell, "venv", "bin") + os.pathsep + spec["system_path"]
    env["TMPDIR"] = os.path.join(cell, "tmp")
    env["PIP_NO_INPUT"] = "1"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def _prepare_environment(spec, cell):  # type: (dict, str) -> dict[str, str]
    """The environment of ``prepare``: the base, without a pip cache."""
    env = base._base_env(spec, cell)
    # The prepared image is committed with the cell's home in it: a cell started from it must find
    # the same empty pip cache as a cell made fresh. What the cell's environment adds to the base,
    # prepare has never had and does not need: it makes the venv itself and runs everything by
    # absolute path (no venv on PATH), installs wheels only (no prompt, no git) and makes no cell/tmp
    # (no TMPDIR). Those differences are kept as they were so a prepared venv is made as before.
    env["PIP_NO_CACHE_DIR"] = "1"
    return env


def _setup(c):  # type: (_Cell) -> None
    """The cell's folders and environment, and the interpreter being tested."""
    for sub in ("home/.config", "home/.cache", "xdg", "tmp", "work"):
        os.makedirs(os.path.join(c.cell, sub), exist_ok=True)
    c.result["python"] = {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    c.env = _environment(c.spec, c.cell)
    c.timeout = float(c.spec["run_timeout"])
    c.src = os.path.join(c.cell, "src", c.spec["project"]["name"])
    c.editable_dir = os.path.join(c.cell, "editable", c.spec["project"]["name"])


def _venv(c):  # type: (_Cell) -> str | None
    """A fresh venv with the pip under test (and the frontend, if not pip): made here, or the one a
    snapshot prepared once for this (Python, pip, frontend) holds at this very path (issue 9), where
    there is nothing to copy for the control."""
    prepared = c.spec.get("prepared")
    if prepared:
        with open(os.path.join(prepared, "meta.json")) as fh:
            c.meta = json.load(fh)
        c.vpy, c.purelib = os.path.join(c.venv, "bin", "python"), c.meta["purelib"]
        c.result["pip_version_output"] = c.meta["pip_version_output"]
        c.result["prepared"] = c.meta["key"]
        return None
    made = base._fresh_env(c.spec, c.env, c.cell, c.venv, c.setup_log)
    if isinstance(made, str):
        return made
    c.vpy, c.purelib, c.result["pip_version_output"] = made
    return None


def _dev_wheels(c):  # type: (_Cell) -> str | None
    """Wheels of backends in development (seed 000's --find-links way), built before the control."""
    for rel in c.spec["project"].get("dev_wheels", []):
        argv = [c.vpy, "-m", "pip", "wheel", "--no-deps", "-w", os.path.join(c.cell, "dev-wheels")]
        if base._run(argv + [os.path.join(c.cell, rel)], c.env, c.cell, c.setup_log, c.timeout)["exit_code"] != 0:
            return "building the wheel of %s failed (see setup.log)" % rel
    return None


def _action(c, name, extra_env, *, user=False):  # type: (_Cell, str, dict[str, str], bool) -> None
    """One run of the action under test (the control or the experiment), with the probe's reports;
    with ``user``, what the user adds by hand (``command-line`` steps): options, input, variables."""
    extra_args = c.experiment_args if user else []
    unset = c.experiment_unset if user else []
    stdin = c.experiment_stdin if user else None
    run_dir = os.path.join(c.out, name)
    os.makedirs(run_dir, exist_ok=True)
    values = c.values(name)
    env = dict(c.env)
    env.update({k: base._fill(v, values) for k, v in c.spec.get("frontend_env", {}).items()})
    index.run_env(c, env, values)
    env.update({k: base._fill(v, values) for k, v in extra_env.items()})
    for key in unset:
        env.pop(key, None)
    env["ISOLATION_PROBE_DIR"] = os.path.join(run_dir, "probe")
    # The declared backend, for hook processes whose frontend does not name it (uv runs hooks
    # with `python -c`, without pyproject-hooks' environment variables).
    backend = c.spec.get("backend", {})
    env["ISOLATION_PROBE_BACKEND"] = backend.get("spec", "")
    env["ISOLATION_PROBE_BACKEND_PATH"] = json.dumps(backend.get("path", []))
    module = c.spec.get("frontend_module", c.spec.get("frontend", "pip"))
    argv = [c.vpy, "-m", module] + [base._fill(a, values) for a in list(c.spec["action_args"]) + list(extra_args)]
    stdin_path = None
    if stdin is not None:
        stdin_path = os.path.join(run_dir, "stdin.txt")
        base._write(stdin_path, base._fill(stdin, values))
    log = os.path.join(run_dir, "output.log")
    res = base._run(argv, env, os.path.join(c.cell, "work"), log, c.timeout, stdin_path=stdin_path)
    res["reports"] = base._read_reports(env["ISOLATION_PROBE_DIR"])
    res["log"] = name + "/output.log"
    c.runs[name] = res


def _contaminate(c):  # type: (_Cell) -> str | None
    """Apply the contamination steps in order (those a prepared image applied are laid over the venv
    instead), each .pth led by the canary; None, or the fault of the step that failed."""
    leading = _prepared_installs(c)
    base._write(os.path.join(c.purelib, "_ih_canary.py"), c.spec["canary_source"])
    for index, step in enumerate(c.spec["steps"]):
        c.label = "%d:%s" % (index, step["kind"])
        if index >= leading:
            fault = steps._step(c, step)
            if fault is not None:
                return fault
        c.steps_done.append(c.label)
    return None


def _prepared_installs(c):  # type: (_Cell) -> int
    """How many leading install steps are already done: the prepared image applied them with the
    same pip, and what they changed in the venv (its delta) is laid over it here."""
    prepared = c.spec.get("prepared")
    leading = c.spec["leading_installs"]  # type: int
    if not (prepared and leading and os.path.isdir(os.path.join(prepared, "delta"))):
        return 0
    shutil.copytree(os.path.join(prepared, "delta"), c.venv, symlinks=True, dirs_exist_ok=True)
    for rel in c.meta["deleted"]:
        os.remove(os.path.join(c.venv, rel))
    return leading


def _contamination_check(c):  # type: (_Cell) -> str | None
    """A contamination that does not take effect in the host itself would make a false `held`: every
    planted .pth must have run its canary in a plain start of the host interpreter."""
    check_dir = os.path.join(c.out, "contamination-check")
    base._output([c.vpy, "-c", "pass"], dict(c.env, **c.experiment_env, ISOLATION_PROBE_DIR=check_dir))
    fired = {r.get("step") for r in base._read_reports(check_dir)}
    missing = [label for label in c.planted if label not in fired]
    if missing:
        return "contamination did not take effect in the host environment: %s" % missing
    return None


def _roots(c):  # type: (_Cell) -> dict[str, object]
    """Where host code lives (anything the build imports from there came from outside it), the
    frontend's own machinery (pip and its vendored pyproject-hooks may run in the build), the project."""
    if c.spec.get("control_only"):
        return {"host": [c.purelib, c.home], "frontend": _frontend_roots(c.spec, c.purelib), "project": c.src}
    roots = {
        "host": [c.purelib, c.editable_dir, c.home, steps._base_purelib(c.env), steps._user_site(c.vpy, c.env)]
        + c.extra_roots,
        "frontend": _frontend_roots(c.spec, c.purelib),
        "project": c.src,
        "code_steps": c.code_steps,
    }  # type: dict[str, object]
    if c.editable_installs:  # the .pth files each real editable install planted (steps.Editable)
        roots["editable_installs"] = c.editable_installs
    return roots


def prepare(spec_path):  # type: (str) -> int
    """Make the snapshots a cell copies: <prepared>/clean (venv + pip + frontend) and
    <prepared>/installed (clean + the leading install steps), at the cell's own venv path."""
    with open(spec_path) as fh:
        spec = json.load(fh)
    fault = base._contract(spec)
    if fault is not None:
        sys.stderr.write(fault + "\n")
        return 3
    cell, target = spec["cell_dir"], spec["prepared"]
    venv = os.path.join(cell, "venv")
    os.makedirs(os.path.join(cell, "home"), exist_ok=True)
    env = _prepare_environment(spec, cell)
    os.makedirs(target, exist_ok=True)
    log = os.path.join(target, "prepare.log")
    made = base._fresh_env(spec, env, cell, venv, log)
    if isinstance(made, str):
        sys.stderr.write(made + "\n")
        return 3
    vpy, purelib, version = made
    clean = os.path.join(target, "clean")
    shutil.copytree(venv, clean, symlinks=True)
    deleted = []  # type: list[str]
    leading = spec["leading_installs"]  # type: int
    if leading:
        reqs = [r for step in spec["steps"][:leading] for r in step["requirements"]]
        res = base._run([vpy, "-m", "pip", "install"] + reqs, env, cell, log, 600)
        if res["exit_code"] != 0:
            sys.stderr.write("installing %s failed (see %s)\n" % (reqs, log))
            return 3
        before, after = _files(clean), _files(venv)
        for rel, stat in after.items():
            if before.get(rel) != stat:  # new or changed by the install
                dest = os.path.join(target, "delta", rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(os.path.join(venv, rel), dest, follow_symlinks=False)
        deleted = sorted(set(before) - set(after))
    # The committed image keeps the clean venv where cells use it.
    shutil.rmtree(venv)
    os.rename(clean, venv)
    with open(os.path.join(target, "meta.json"), "w") as fh:
        json.dump(
            {"key": spec["prepare_key"], "purelib": purelib, "pip_version_output": version, "deleted": deleted}, fh
        )
    return 0


def _files(root):  # type: (str) -> dict[str, tuple[int, int]]
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            stat = os.lstat(path)
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _frontend_roots(spec, purelib):  # type: (dict, str) -> list[str]
    """The frontend's own machinery, allowed to run in the build: pip (with its vendored
    pyproject-hooks), or pypa/build and the pyproject-hooks it depends on, or uv."""
    return [os.path.join(purelib, name) for name in spec.get("frontend_roots", ["pip"])]


if __name__ == "__main__":
    if sys.argv[2:] == ["--prepare"]:
        sys.exit(prepare(sys.argv[1]))
    if sys.argv[2:3] == ["--when"] and not base.when(sys.argv[3]):
        sys.exit(3)
    sys.exit(main(sys.argv[1]))
