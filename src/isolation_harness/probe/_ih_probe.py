"""The isolation probe: reports from inside a build environment what the build really saw.

Installed as a build requirement (a wheel with a .pth file), so the frontend's own isolated environment
runs it: pip's build environment adds its prefixes with ``site.addsitedir``, which executes .pth lines.
It only observes: at start it takes a snapshot, and at exit it writes one JSON file into
``$ISOLATION_PROBE_DIR``. Standard library only; must run on Python 3.8.
"""

from __future__ import annotations

import atexit
import json
import os
import sys

_START = {}  # type: dict[str, object]


def _describe(obj):  # type: (object) -> dict[str, object]
    """Where an import hook comes from: its class, module and that module's file."""
    cls = obj if isinstance(obj, type) else type(obj)
    module_name = getattr(cls, "__module__", None) or ""
    module = sys.modules.get(module_name)
    return {
        "name": "%s.%s" % (module_name, getattr(cls, "__qualname__", cls.__name__)),
        "module": module_name,
        "file": getattr(module, "__file__", None) if module is not None else None,
        "is_class": isinstance(obj, type),
    }


def _backend():  # type: () -> dict[str, object]
    # The frontend hands the backend to the hook process in environment variables: PEP517_* from
    # pep517 and pyproject-hooks < 1.2, _PYPROJECT_HOOKS_* from pyproject-hooks 1.2 (pip 25.0) on, with
    # the backend path as JSON from 1.3.
    env = _START.get("env") or os.environ  # type: dict[str, str]  # type: ignore[assignment]
    spec = env.get("_PYPROJECT_HOOKS_BUILD_BACKEND") or env.get("PEP517_BUILD_BACKEND", "")
    raw_path = env.get("_PYPROJECT_HOOKS_BACKEND_PATH") or env.get("PEP517_BACKEND_PATH", "")
    backend_path = [p for p in raw_path.split(os.pathsep) if p]
    if "_PYPROJECT_HOOKS_BACKEND_PATH_JSON" in env:  # pyproject-hooks 1.3: a JSON list
        try:
            backend_path = [str(p) for p in json.loads(env["_PYPROJECT_HOOKS_BACKEND_PATH_JSON"])]
        except ValueError:
            pass
    declared = False
    if not spec:
        # The frontend did not say (uv runs each hook with `python -c`): the backend the project
        # declares, passed by the cell driver, with backend-path relative to the hook's working folder.
        spec = env.get("ISOLATION_PROBE_BACKEND", "")
        try:
            relative = json.loads(env.get("ISOLATION_PROBE_BACKEND_PATH", "[]"))
        except ValueError:
            relative = []
        backend_path = [os.path.join(os.getcwd(), str(p)) for p in relative]
        declared = True
    module_name = spec.split(":")[0].strip()
    module = sys.modules.get(module_name) if module_name else None
    if module is None and _START.get("legacy"):
        # Started by a legacy project's setup.py, outside any PEP 517 hook: the frontend ran setup.py
        # itself (pip before 25.3, pip #6334), so the backend is whatever setuptools it imported.
        setuptools = sys.modules.get("setuptools")
        return {
            "spec": "setup.py run by the frontend itself (no PEP 517 hook)",
            "module": "setuptools",
            "backend_path": [],
            "loaded": setuptools is not None,
            "declared_only": False,
            "legacy": True,
            "file": getattr(setuptools, "__file__", None),
        }
    return {
        "spec": spec,
        "module": module_name,
        "backend_path": backend_path,
        "loaded": module is not None,
        "declared_only": declared,
        "file": getattr(module, "__file__", None),
    }


def _non_stdlib_modules():  # type: () -> dict[str, str]
    stdlib = os.path.join(sys.base_prefix, "lib")
    out = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and ("site-packages" in path or not path.startswith(stdlib)):
            out[name] = path
    return out


def _other_copies(modules):  # type: (dict[str, str]) -> dict[str, list[str]]
    """For each top-level module loaded from outside the standard library, the other places on
    sys.path that offer the same name: what it shadowed. A frontend folder on the hook's sys.path
    (pip/_vendor/pep517 in pip 19-21.0) can hide a build requirement of the same name (pip #8887).
    Only looks (PathFinder.find_spec imports nothing)."""
    from importlib.machinery import PathFinder

    found = {}  # type: dict[str, list[str]]
    for name, path in modules.items():
        if "." in name or name == "__main__":
            continue
        here = os.path.realpath(path)
        for entry in sys.path:
            try:
                spec = PathFinder.find_spec(name, [entry or "."])
            except Exception:  # noqa: BLE001 - a broken path entry is not the probe's business
                continue
            origin = getattr(spec, "origin", None) if spec is not None else None
            if origin and os.path.realpath(origin) != here:
                found.setdefault(name, []).append(origin)
    return found


def _distributions():  # type: () -> list[str]
    """Installed distributions visible on sys.path (name-version of each .dist-info), read from the
    folder names only: importing importlib.metadata here could change what the build sees."""
    found = []  # type: list[str]
    for entry in sys.path:
        try:
            names = os.listdir(entry) if os.path.isdir(entry) else []
        except OSError:
            continue
        found.extend("%s (%s)" % (n[: -len(".dist-info")], entry) for n in names if n.endswith(".dist-info"))
    return found


def _report():  # type: () -> None
    target = os.environ.get("ISOLATION_PROBE_DIR")
    if not target:
        return
    modules = _non_stdlib_modules()
    report = {
        "kind": "probe",
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": list(sys.argv),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "cwd": os.getcwd(),
        "probe_file": os.path.abspath(__file__),
        "backend": _backend(),
        "meta_path_at_start": _START.get("meta_path", []),
        "meta_path": [_describe(f) for f in sys.meta_path],
        "path_hooks": [_describe(h) for h in sys.path_hooks],
        "sys_path_at_start": _START.get("sys_path", []),
        "sys_path": list(sys.path),
        "modules": modules,
        "other_copies": _other_copies(modules),
        "distributions": _distributions(),
        "env_at_start": _START.get("env", {}),
    }
    try:
        os.makedirs(target, exist_ok=True)
        final = os.path.join(target, "probe-%d.json" % os.getpid())
        tmp = final + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=1, sort_keys=True)
        os.replace(tmp, final)
    except OSError:
        pass  # the probe must never change the build's outcome; a missing report is noticed outside


def install(legacy=False):  # type: (bool) -> None
    """Start observing; ``legacy``: started by a legacy project's setup.py (see pyproject.py), not by
    the .pth of the probe's wheel among the build requirements."""
    if not os.environ.get("ISOLATION_PROBE_DIR") or _START:
        return
    _START["legacy"] = legacy
    _START["meta_path"] = [_describe(f) for f in sys.meta_path]
    _START["sys_path"] = list(sys.path)
    _START["env"] = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("PIP_", "PYTHON", "PEP517_", "_PYPROJECT_HOOKS_", "ISOLATION_PROBE_BACKEND", "UV_"))
    }
    atexit.register(_report)
