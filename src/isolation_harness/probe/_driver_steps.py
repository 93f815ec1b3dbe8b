"""The contamination, one function per step kind (as pyproject-hooks' _in_process has one per hook).

Each takes the cell (driver._Cell) and the step as the harness wrote it, and returns None or a fault.
Standard library only; runs on Python 3.8 (see driver.py).
"""

from __future__ import annotations

import os
import shutil
import sys

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
