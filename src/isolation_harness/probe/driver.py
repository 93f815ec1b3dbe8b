"""Cell driver: prepares one fresh environment and runs the control and the experiment in it.

Runs inside the engine (a container, or a scrubbed temporary folder for the local engine) under the
base interpreter being tested, started as ``python -I -S driver.py SPEC.json``, so nothing of any
site-packages touches it. Standard library only; must run on Python 3.8. It writes ``result.json``
(and the logs) into the spec's ``out_dir``; the harness turns that into facts and a verdict.

Usage: python -I -S driver.py SPEC.json
"""

from __future__ import annotations

import base64
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import zipfile

DRIVER_VERSION = 2
# Fixed identity and dates make the project's git commit, and so pip's view of it, identical in
# every cell and every run.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "isolation-harness",
    "GIT_AUTHOR_EMAIL": "harness@invalid",
    "GIT_COMMITTER_NAME": "isolation-harness",
    "GIT_COMMITTER_EMAIL": "harness@invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The action running now: each runs in its own process group (so a time limit kills all of pip's
# processes), which the engine's kill of the driver's group does not reach; SIGTERM passes it on.
_RUNNING = []  # type: list[subprocess.Popen[bytes]]


def _on_term(signum, frame):  # type: (int, object) -> None
    for proc in list(_RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(128 + signum)


def _write(path, text):  # type: (str, str) -> None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def _run(argv, env, cwd, log_path, timeout):  # type: (list[str], dict[str, str], str, str, float) -> dict[str, object]
    """Run one command, output to a log file, killed with its whole process group at the limit."""
    start = time.monotonic()
    timed_out = False
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _RUNNING.append(proc)
        try:
            code = proc.wait(timeout=timeout)  # type: int | None
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            code = None
            log.write(("\n[isolation-harness] killed after %.0f s time limit\n" % timeout).encode())
        finally:
            _RUNNING.remove(proc)
    return {"argv": argv, "exit_code": code, "timed_out": timed_out, "duration": round(time.monotonic() - start, 3)}


def _output(argv, env):  # type: (list[str], dict[str, str]) -> str
    try:
        out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "failed: %s" % exc
    return out.stdout.decode("utf-8", "replace").strip()


def _fill(text, values):  # type: (str, dict[str, str]) -> str
    return text.format(**values)


def _read_reports(folder):  # type: (str) -> list[dict[str, object]]
    reports = []
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                try:
                    with open(os.path.join(folder, name)) as fh:
                        reports.append(json.load(fh))
                except (OSError, ValueError) as exc:
                    reports.append({"kind": "unreadable", "file": name, "error": str(exc)})
    return reports


def _editable_finder(module, editable_dir, purelib):  # type: (str, str, str) -> list[str]
    """Plant an editable install of ``module`` as pip #11812 describes: a MetaPathFinder inserted
    first on sys.meta_path by a .pth file, mapping the module to a copy of the project."""
    rel = module.replace(".", "/")
    candidates = [os.path.join(editable_dir, rel + ".py"), os.path.join(editable_dir, rel, "__init__.py")]
    target = next((c for c in candidates if os.path.exists(c)), candidates[0])
    impl = "_editable_impl_" + module.replace(".", "_")
    _write(
        os.path.join(purelib, impl + ".py"),
        "import sys\n"
        "from importlib.util import spec_from_file_location\n\n"
        "MAPPING = %r\n\n\n"
        "class _EditableFinder:  # MetaPathFinder\n"
        "    @classmethod\n"
        "    def find_spec(cls, fullname, path=None, target=None):\n"
        "        if fullname in MAPPING:\n"
        "            return spec_from_file_location(fullname, MAPPING[fullname])\n\n\n"
        "def install():\n"
        "    if not any(finder == _EditableFinder for finder in sys.meta_path):\n"
        "        sys.meta_path.insert(0, _EditableFinder)\n" % ({module: target},),
    )
    return ["import %s; %s.install()" % (impl, impl)]


def _wheel_view(spec, cell):  # type: (dict, str) -> str
    """The wheel directory as this Python's index would show it: without the wheels whose
    Requires-Python excludes it (the harness lists them), as links in the cell."""
    hidden = set(spec.get("wheelhouse_hidden") or [])
    if not hidden:
        return str(spec["wheelhouse"])
    view = os.path.join(cell, "wheels")
    os.makedirs(view, exist_ok=True)
    for name in os.listdir(spec["wheelhouse"]):
        if name not in hidden and not name.startswith(".") and not os.path.exists(os.path.join(view, name)):
            os.symlink(os.path.join(spec["wheelhouse"], name), os.path.join(view, name))
    return view


def main(spec_path):  # type: (str) -> int
    signal.signal(signal.SIGTERM, _on_term)
    with open(spec_path) as fh:
        spec = json.load(fh)
    cell = spec["cell_dir"]
    out = spec["out_dir"]
    home = os.path.join(cell, "home")
    for sub in ("home/.config", "home/.cache", "xdg", "tmp", "work"):
        os.makedirs(os.path.join(cell, sub), exist_ok=True)
    os.makedirs(out, exist_ok=True)
    start = time.monotonic()
    phases = {}  # type: dict[str, float]

    def phase(name):  # type: (str) -> None
        phases[name] = round(time.monotonic() - start, 3)

    steps_done = []  # type: list[str]
    result = {"driver_version": DRIVER_VERSION, "steps": steps_done, "phases": phases}  # type: dict[str, object]
    result["python"] = {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    venv = os.path.join(cell, "venv")
    wheels = _wheel_view(spec, cell)
    env = {
        "PATH": os.path.join(venv, "bin") + os.pathsep + spec["system_path"],
        "HOME": home,
        "LANG": "C.UTF-8",
        "TMPDIR": os.path.join(cell, "tmp"),
        # Hermetic: every artifact comes from the wheel directory filled on the host.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": wheels,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        # Keep machine-level pip configuration (/etc/xdg/pip) and caches out of the cell.
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CONFIG_DIRS": os.path.join(cell, "xdg"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    # 1. the project, as a git repository the frontend clones or as a plain folder
    project = spec["project"]
    src = os.path.join(cell, "src", project["name"])
    for rel, text in project["files"].items():
        _write(os.path.join(src, rel), text)
    for rel, data in project.get("binary_files", {}).items():
        # diagnose copies a real project whole: its binary files travel base64-encoded.
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as binary:
            binary.write(base64.b64decode(data))
    for rel, text in project.get("outside", {}).items():
        _write(os.path.join(cell, rel), text)
    for rel, target in project.get("links", {}).items():
        link = os.path.join(src, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target.format(cell=cell), link)
    setup_log = os.path.join(out, "setup.log")
    if project["offer"] == "vcs":
        git_env = dict(env, **GIT_ENV)
        for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "project under test"]):
            res = _run(argv, git_env, src, setup_log, 120)
            if res["exit_code"] != 0:
                return _fault(result, out, "git failed to create the project repository: %s" % argv)
        # `name @ git+file:///...` is refused by old pips ("looks like a path"); #egg= works on 19-26.
        project_url = "git+file://%s#egg=%s" % (src, project["name"])
    else:
        project_url = src
    phase("project")
    result["git_version"] = _output(["git", "--version"], env)
    # 2. a fresh venv with the pip under test (and the frontend, if not pip): made here, or copied
    # from a snapshot prepared once for this (Python, pip, frontend) at the same path (issue 9).
    frontend = spec.get("frontend", "pip")
    module = spec.get("frontend_module", frontend)
    prepared = spec.get("prepared")
    if prepared:
        # The prepared image holds the clean venv at this very path: nothing to copy for the control.
        with open(os.path.join(prepared, "meta.json")) as fh:
            meta = json.load(fh)
        vpy, purelib = os.path.join(venv, "bin", "python"), meta["purelib"]
        result["pip_version_output"] = meta["pip_version_output"]
        result["prepared"] = meta["key"]
    else:
        made = _fresh_env(spec, env, cell, venv, setup_log)
        if isinstance(made, str):
            return _fault(result, out, made)
        vpy, purelib, result["pip_version_output"] = made
    values = {
        "cell": cell,
        "project_dir": src,
        "project_url": project_url,
        "wheelhouse": wheels,
        "path": env["PATH"],
    }
    timeout = float(spec["run_timeout"])
    # Wheels of backends in development (seed 000's --find-links way), built before the control.
    for rel in project.get("dev_wheels", []):
        argv = [vpy, "-m", "pip", "wheel", "--no-deps", "-w", os.path.join(cell, "dev-wheels"), os.path.join(cell, rel)]
        if _run(argv, env, cell, setup_log, timeout)["exit_code"] != 0:
            return _fault(result, out, "building the wheel of %s failed (see setup.log)" % rel)
    backend = spec.get("backend", {})
    runs = {}  # type: dict[str, object]
    result["runs"] = runs

    def action(name, extra_env):  # type: (str, dict[str, str]) -> None
        run_dir = os.path.join(out, name)
        os.makedirs(run_dir, exist_ok=True)
        run_values = dict(values, target=os.path.join(cell, "target-" + name), run=run_dir)
        run_env = dict(env)
        run_env.update({k: _fill(v, run_values) for k, v in spec.get("frontend_env", {}).items()})
        run_env.update({k: _fill(v, run_values) for k, v in extra_env.items()})
        run_env["ISOLATION_PROBE_DIR"] = os.path.join(run_dir, "probe")
        # The declared backend, for hook processes whose frontend does not name it (uv runs hooks
        # with `python -c`, without pyproject-hooks' environment variables).
        run_env["ISOLATION_PROBE_BACKEND"] = backend.get("spec", "")
        run_env["ISOLATION_PROBE_BACKEND_PATH"] = json.dumps(backend.get("path", []))
        argv = [vpy, "-m", module] + [_fill(a, run_values) for a in spec["action_args"]]
        res = _run(argv, run_env, os.path.join(cell, "work"), os.path.join(run_dir, "output.log"), timeout)
        res["reports"] = _read_reports(run_env["ISOLATION_PROBE_DIR"])
        res["log"] = name + "/output.log"
        runs[name] = res

    # 3. the control: the same action in the same fresh environment, before any contamination
    phase("environment")
    action("control", {})
    phase("control")
    if spec.get("control_only"):  # diagnose: only the clean build is wanted
        result["roots"] = {"host": [purelib, home], "frontend": _frontend_roots(spec, purelib), "project": src}
        return _finish(result, out)
    # 4. the contamination, step by step
    experiment_env = {}  # type: dict[str, str]
    editable_dir = os.path.join(cell, "editable", project["name"])
    canary = "import _ih_canary; _ih_canary.mark(%r)"
    values_exp = dict(values, target=os.path.join(cell, "target-experiment"), run=os.path.join(out, "experiment"))
    leading = _leading_installs(spec["steps"])
    if prepared and leading and os.path.isdir(os.path.join(prepared, "delta")):
        # The leading install steps were applied by the same pip when the image was prepared; what
        # they changed in the venv is laid over it here.
        shutil.copytree(os.path.join(prepared, "delta"), venv, symlinks=True, dirs_exist_ok=True)
        for rel in meta["deleted"]:
            os.remove(os.path.join(venv, rel))
    else:
        leading = 0
    _write(os.path.join(purelib, "_ih_canary.py"), spec["canary_source"])
    planted = []  # type: list[str]
    code_steps = []  # type: list[str]
    extra_roots = []  # type: list[str]  # host code outside the venv: user site, base, .pth folders
    for index, step in enumerate(spec["steps"]):
        kind = step["kind"]
        label = "%d:%s" % (index, kind)
        if index < leading:
            pass
        elif kind == "install":
            into = step.get("into", "host")
            argv = [vpy, "-m", "pip", "install"]
            if into == "user":
                # The user site-packages (pip #5224): empty before this step, so --target is `--user`.
                where = _user_site(vpy, env)
                argv += ["--target", where]
                extra_roots.append(where)
            elif into == "base":
                # The base interpreter's site-packages (pip #6264), installed by the base's own pip as a
                # user or an image recipe does: it replaces what the base already holds (the official
                # images ship setuptools before 3.12), where --target would leave the old files.
                argv = [sys.executable, "-m", "pip", "install"]
                extra_roots.append(_base_purelib(env))
            res = _run(argv + list(step["requirements"]), env, cell, setup_log, timeout)
            if res["exit_code"] != 0:
                return _fault(
                    result,
                    out,
                    "contamination step %s failed: pip install %s (see setup.log)"
                    % (label, " ".join(step["requirements"])),
                )
        elif kind == "editable-finder":
            if not os.path.isdir(editable_dir):
                shutil.copytree(src, editable_dir, ignore=shutil.ignore_patterns(".git"))
            lines = _editable_finder(step["module"], editable_dir, purelib)
            _write(
                os.path.join(purelib, "__editable__.%s.pth" % step["module"]),
                "\n".join([canary % label] + lines) + "\n",
            )
        elif kind == "pth":
            lines = [_fill(line, values_exp) for line in step["lines"]]
            # A line that is not code is a folder put on sys.path: what is there is host code too.
            extra_roots.extend(line for line in lines if not line.startswith(("import ", "import\t", "#")))
            _write(os.path.join(purelib, step["name"]), "\n".join([canary % label] + lines) + "\n")
        elif kind == "env":
            experiment_env.update(step["variables"])
        elif kind == "venv-config":
            _venv_config(venv, step["system_site_packages"])
        elif kind == "pip-config":
            text = ""
            for section, settings in step["sections"]:
                text += "[%s]\n" % section
                text += "".join("%s = %s\n" % (k, _fill(v, values_exp)) for k, v in settings)
            _write(os.path.join(home, ".config", "pip", "pip.conf"), text)
        else:
            return _fault(result, out, "unknown contamination step %r" % kind)
        if kind in ("editable-finder", "pth"):
            planted.append(label)
            # Code besides the canary: a .pth of folders only adds paths, it runs nothing of the host's.
            if kind == "editable-finder" or any(line.startswith(("import ", "import\t")) for line in step["lines"]):
                code_steps.append(label)
        steps_done.append(label)
    # A contamination that does not take effect in the host itself would make a false `held`: every
    # planted .pth must have run its canary in a plain start of the host interpreter.
    check_dir = os.path.join(out, "contamination-check")
    _output([vpy, "-c", "pass"], dict(env, **experiment_env, ISOLATION_PROBE_DIR=check_dir))
    fired = {r.get("step") for r in _read_reports(check_dir)}
    missing = [label for label in planted if label not in fired]
    if missing:
        return _fault(result, out, "contamination did not take effect in the host environment: %s" % missing)
    # 5. the experiment
    phase("contamination")
    action("experiment", experiment_env)
    phase("experiment")
    result["roots"] = {
        # Where host code lives: anything the build imports from here came from outside it.
        "host": [
            purelib,
            editable_dir,
            home,
            _base_purelib(env),
            _user_site(vpy, env),
        ]
        + extra_roots,
        # The frontend's own machinery (pip and its vendored pyproject-hooks) may run in the build.
        "frontend": _frontend_roots(spec, purelib),
        "project": src,
        "code_steps": code_steps,
    }
    return _finish(result, out)


def _fresh_env(spec, env, cell, venv, setup_log):  # type: (dict, dict, str, str, str) -> tuple[str, str, str] | str
    """A fresh venv without pip, then the pip under test unpacked from its wheel (the venv's own pip
    bootstrap would be a second pip, and unpacking is what a wheel install does anyway), then the
    frontend when it is not pip. Returns (python, purelib, pip --version) or a fault message."""
    res = _run([sys.executable, "-I", "-m", "venv", "--without-pip", venv], env, cell, setup_log, 300)
    if res["exit_code"] != 0:
        return "python -m venv failed (see setup.log)"
    vpy = os.path.join(venv, "bin", "python")
    purelib = _output([vpy, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env)
    with zipfile.ZipFile(os.path.join(spec["wheelhouse"], spec["pip_wheel"])) as wheel:
        wheel.extractall(purelib)
    version = _output([vpy, "-m", "pip", "--version"], env)
    if spec.get("frontend_requirements"):
        res = _run([vpy, "-m", "pip", "install"] + list(spec["frontend_requirements"]), env, cell, setup_log, 600)
        if res["exit_code"] != 0:
            return "installing the frontend failed: %s (see setup.log)" % spec.get("frontend")
    return vpy, purelib, version


def _base_purelib(env):  # type: (dict[str, str]) -> str
    return _output([sys.executable, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env)


def _user_site(vpy, env):  # type: (str, dict[str, str]) -> str
    return _output([vpy, "-c", "import site; print(site.getusersitepackages())"], env)


def _venv_config(venv, system_site_packages):  # type: (str, bool) -> None
    """Set include-system-site-packages in pyvenv.cfg, as `python -m venv --system-site-packages` does."""
    cfg = os.path.join(venv, "pyvenv.cfg")
    with open(cfg) as fh:
        lines = [line for line in fh.read().splitlines() if not line.startswith("include-system-site-packages")]
    lines.append("include-system-site-packages = %s" % ("true" if system_site_packages else "false"))
    _write(cfg, "\n".join(lines) + "\n")


def _leading_installs(steps):  # type: (list) -> int
    """How many install steps (into the host venv) open the contamination: only those can come from
    a snapshot, since a step before an install (a .pth, an env var) could change what that install does."""
    count = 0
    for step in steps:
        if step["kind"] != "install" or step.get("into", "host") != "host":
            break
        count += 1
    return count


def prepare(spec_path):  # type: (str) -> int
    """Make the snapshots a cell copies: <prepared>/clean (venv + pip + frontend) and
    <prepared>/installed (clean + the leading install steps), at the cell's own venv path."""
    with open(spec_path) as fh:
        spec = json.load(fh)
    cell, target = spec["cell_dir"], spec["prepared"]
    venv = os.path.join(cell, "venv")
    os.makedirs(os.path.join(cell, "home"), exist_ok=True)
    env = {
        "PATH": spec["system_path"],
        "HOME": os.path.join(cell, "home"),
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": _wheel_view(spec, cell),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "XDG_CONFIG_HOME": os.path.join(cell, "home", ".config"),
        "XDG_CONFIG_DIRS": os.path.join(cell, "xdg"),
        "XDG_CACHE_HOME": os.path.join(cell, "home", ".cache"),
        "PIP_NO_CACHE_DIR": "1",
    }
    os.makedirs(target, exist_ok=True)
    log = os.path.join(target, "prepare.log")
    made = _fresh_env(spec, env, cell, venv, log)
    if isinstance(made, str):
        sys.stderr.write(made + "\n")
        return 3
    vpy, purelib, version = made
    clean = os.path.join(target, "clean")
    shutil.copytree(venv, clean, symlinks=True)
    deleted = []  # type: list[str]
    leading = _leading_installs(spec["steps"])
    if leading:
        reqs = [r for step in spec["steps"][:leading] for r in step["requirements"]]
        res = _run([vpy, "-m", "pip", "install"] + reqs, env, cell, log, 600)
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


def _fault(result, out, message):  # type: (dict[str, object], str, str) -> int
    result["fault"] = message
    return _finish(result, out)


def _finish(result, out):  # type: (dict[str, object], str) -> int
    tmp = os.path.join(out, "result.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out, "result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(prepare(sys.argv[1]) if sys.argv[2:] == ["--prepare"] else main(sys.argv[1]))
