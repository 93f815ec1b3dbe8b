"""The contamination, one function per step kind (as pyproject-hooks' _in_process has one per hook).

Each takes the cell (driver._Cell) and the step as the harness wrote it, and returns None or a fault.
Standard library only; runs on Python 3.8 (see driver.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import zipfile

MYPY = False
if MYPY:  # pragma: no cover - for the type comments only
    from .driver import _Cell  # noqa: F401

if __package__:  # imported as part of the package (tests), or as the driver's sibling in a cell
    from ._driver_base import CANARY_LINE, _fill, _output, _run, _write
else:  # pragma: no cover - in a cell
    from _driver_base import CANARY_LINE, _fill, _output, _run, _write  # type: ignore[no-redef,import-not-found,unused-ignore]


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


def _step(c, step):  # type: (_Cell, dict) -> str | None
    """Apply one contamination step (``c.label`` names it): None, or a fault message."""
    apply = STEPS.get(step["kind"])
    if apply is None:
        return "unknown contamination step %r" % step["kind"]
    return apply(c, step)


def _step_install(c, step):  # type: (_Cell, dict) -> str | None
    """pip install into the host venv, the user site-packages or the base interpreter."""
    into = step.get("into", "host")
    argv = [c.vpy, "-m", "pip", "install"]
    if into == "user":
        # The user site-packages (pip #5224): empty before this step, so --target is `--user`.
        where = _user_site(c.vpy, c.env)
        argv += ["--target", where]
        c.extra_roots.append(where)
    elif into == "base":
        # The base interpreter's site-packages (pip #6264), installed by the base's own pip as a
        # user or an image recipe does: it replaces what the base already holds (the official
        # images ship setuptools before 3.12), where --target would leave the old files.
        argv = [sys.executable, "-m", "pip", "install"]
        c.extra_roots.append(_base_purelib(c.env))
    res = _run(argv + list(step["requirements"]), c.env, c.cell, c.setup_log, c.timeout)
    if res["exit_code"] != 0:
        return "contamination step %s failed: pip install %s (see setup.log)" % (
            c.label,
            " ".join(step["requirements"]),
        )
    return None


def _step_editable_finder(c, step):  # type: (_Cell, dict) -> None
    """An editable install of the project by a meta path finder (pip #11812): host code."""
    if not os.path.isdir(c.editable_dir):
        shutil.copytree(c.src, c.editable_dir, ignore=shutil.ignore_patterns(".git"))
    lines = _editable_finder(step["module"], c.editable_dir, c.purelib)
    pth = os.path.join(c.purelib, "__editable__.%s.pth" % step["module"])
    _write(pth, "\n".join([CANARY_LINE % c.label] + lines) + "\n")
    c.planted.append(c.label)
    c.code_steps.append(c.label)


def _step_editable(c, step):  # type: (_Cell, dict) -> str | None
    """A real editable install into the host venv, by a current pip run from its unpacked wheel with
    the venv's interpreter (the same install whatever pip is under test), of a released sdist or a
    fixture. Every .pth it planted is led by the canary; what they name is host code."""
    where = os.path.join(c.cell, "editable", c.label.replace(":", "-"))
    fault = _editable_source(c, step, where) or _editable_install(c, step, where)
    if fault is not None:
        return "contamination step %s%s" % (c.label, fault)
    return None


def _editable_source(c, step, where):  # type: (_Cell, dict, str) -> str | None
    if step.get("sdist"):
        fault = _unpack_sdist(c.spec["wheelhouse"], step["sdist"], where)
        if fault is not None:
            return ": " + fault
    for rel, text in step.get("files", []):
        _write(os.path.join(where, rel), text)
    if not c.spec.get("editable_pip_wheel"):
        return ": the spec names no pip for editable installs"
    tool = os.path.join(c.cell, "editable-pip")
    if not os.path.isdir(tool):
        with zipfile.ZipFile(os.path.join(c.spec["wheelhouse"], c.spec.get("editable_pip_wheel", ""))) as wheel:
            wheel.extractall(tool)
    return None


def _editable_install(c, step, where):  # type: (_Cell, dict, str) -> str | None
    pip = [c.vpy, os.path.join(c.cell, "editable-pip", "pip"), "install", "--no-input"]
    argv = pip + ["-e", where]
    if not step.get("build_isolation", True):  # the build tools in the host venv, the build there
        tools = list(step.get("requires", []))
        if tools and _run(pip + tools, c.env, c.cell, c.setup_log, c.timeout)["exit_code"] != 0:
            return " failed: pip install %s (see setup.log)" % " ".join(tools)
        argv = pip + ["--no-build-isolation", "-e", where]
    before = set(os.listdir(c.purelib))
    for key, value in step.get("config_settings", []):
        argv += ["--config-settings", "%s=%s" % (key, value)]
    if _run(argv, c.env, c.cell, c.setup_log, c.timeout)["exit_code"] != 0:
        return " failed: pip install -e %s (see setup.log)" % (step.get("sdist") or where)
    new = set(os.listdir(c.purelib)) - before
    planted = sorted(n for n in new if n.endswith(".pth"))
    if not planted:
        return ": the editable install planted no .pth file (see setup.log)"
    if step.get("meta_path_first") and not _finder_first(c.purelib, new):
        return ": meta-path: first, but the install planted no finder appended to sys.meta_path"
    c.extra_roots.append(where)
    for name in planted:
        path = os.path.join(c.purelib, name)
        with open(path) as fh:
            lines = fh.read().splitlines()
        # A path line is a folder on sys.path (host code); an import line runs code at every start.
        c.extra_roots.extend(line for line in lines if line.strip() and not line.startswith(("import ", "#")))
        if any(line.startswith(("import ", "import\t")) for line in lines):
            c.code_steps.append(c.label)
        _write(path, "\n".join([CANARY_LINE % c.label] + lines) + "\n")
    c.planted.append(c.label)
    c.editable_installs[c.label] = planted
    return None


def _unpack_sdist(wheelhouse, requirement, where):  # type: (str, str, str) -> str | None
    """Unpack NAME==VERSION's sdist from the wheel directory into ``where`` (its top folder dropped)."""
    name, _, version = requirement.partition("==")
    found = [f for f in sorted(os.listdir(wheelhouse)) if _sdist_release(f) == (_norm(name), version.strip())]
    if not found:
        return "no source distribution of %s in the wheel directory" % requirement
    unpack = where + ".unpack"
    with tarfile.open(os.path.join(wheelhouse, found[0])) as tar:
        # An sdist the harness fetched and hashed itself; "data" refuses links out of it where known.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(unpack, filter="data")
        else:  # pragma: no cover - Python 3.8-3.11 before the filter backports
            tar.extractall(unpack)
    tops = os.listdir(unpack)
    shutil.move(os.path.join(unpack, tops[0]) if len(tops) == 1 else unpack, where)
    return None


def _norm(name):  # type: (str) -> str
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _sdist_release(filename):  # type: (str) -> tuple[str, str] | None
    """(normalized name, version) of NAME-VERSION.tar.gz, else None."""
    if not filename.endswith(".tar.gz"):
        return None
    name, _, version = filename[: -len(".tar.gz")].rpartition("-")
    return _norm(name), version


def _finder_first(purelib, new):  # type: (str, set[str]) -> bool
    """Move the finder an editable install planted to the front of sys.meta_path (setuptools PR #3829)."""
    moved = []
    for name in sorted(n for n in new if n.endswith(".py")):
        path = os.path.join(purelib, name)
        with open(path) as fh:
            text = fh.read()
        if "sys.meta_path.append(" in text:
            _write(path, text.replace("sys.meta_path.append(", "sys.meta_path.insert(0, "))
            moved.append(name)
    return bool(moved)


def _step_pth(c, step):  # type: (_Cell, dict) -> None
    """A .pth file in the host venv: import lines run code, other lines put folders on sys.path."""
    lines = [_fill(line, c.values("experiment")) for line in step["lines"]]
    # A line that is not code is a folder put on sys.path: what is there is host code too.
    c.extra_roots.extend(line for line in lines if not line.startswith(("import ", "import\t", "#")))
    _write(os.path.join(c.purelib, step["name"]), "\n".join([CANARY_LINE % c.label] + lines) + "\n")
    c.planted.append(c.label)
    # Code besides the canary: a .pth of folders only adds paths, it runs nothing of the host's.
    if any(line.startswith(("import ", "import\t")) for line in step["lines"]):
        c.code_steps.append(c.label)


def _step_env(c, step):  # type: (_Cell, dict) -> None
    """Environment variables set for the experiment only."""
    c.experiment_env.update(step["variables"])


def _step_venv_config(c, step):  # type: (_Cell, dict) -> None
    """include-system-site-packages in the venv's pyvenv.cfg."""
    _venv_config(c.venv, step["system_site_packages"])


def _step_pip_config(c, step):  # type: (_Cell, dict) -> None
    """A user pip.conf with the step's sections, in order."""
    values = c.values("experiment")
    text = ""
    for section, settings in step["sections"]:
        text += "[%s]\n" % section
        text += "".join("%s = %s\n" % (k, _fill(v, values)) for k, v in settings)
    _write(os.path.join(c.home, ".config", "pip", "pip.conf"), text)


# The contamination steps by kind: each takes the cell and the step, and returns None or a fault.
def _step_command_line(c, step):  # type: (_Cell, dict) -> None
    """The user's options appended to the experiment's command, replacing the named variables."""
    c.experiment_args.extend(step["args"])
    c.experiment_unset.extend(step.get("instead_of", []))
    if step.get("stdin") is not None:
        c.experiment_stdin = step["stdin"]


STEPS = {
    "install": _step_install,
    "editable": _step_editable,
    "editable-finder": _step_editable_finder,
    "pth": _step_pth,
    "env": _step_env,
    "venv-config": _step_venv_config,
    "pip-config": _step_pip_config,
    "command-line": _step_command_line,
}


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
