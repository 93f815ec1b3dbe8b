"""From the driver's raw output to the facts a verdict rests on.

The probe reports raw state (files of finders, path entries, the backend module's file); this module
decides which of it came from the host, using the roots the driver recorded: the host environment's
site-packages, the editable copy, the home folder and the base interpreter's site-packages. The
frontend's own machinery (pip and its vendored pyproject-hooks) is allowed in the build.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isolation_harness.verdict import RunSummary

# The final line of a traceback ("pkg.mod.BackendInvalid: ...") or pip's own "ERROR: ..." line.
# pip 23.1+ draws a box around a backend's error ("╰─> ModuleNotFoundError: ..."): the box is not part of it.
_EXCEPTION_LINE = re.compile(r"^[\s│╰─>]*([A-Za-z_][\w.]*(?:Error|Exception|Invalid|Exit)\b:?.*)$")
_PIP_ERROR_LINE = re.compile(r"^\s*(ERROR: .*)$")
# pip's wrappers around the real error, never the cause itself.
_GENERIC_ERRORS = ("ERROR: Exception:", "ERROR: Command errored out", "ERROR: Could not find a version that satisfies")


@dataclass(frozen=True)
class RunFacts:
    """What the probe and the log say about one run."""

    exit_code: int | None
    timed_out: bool
    duration: float
    error: str | None
    hook_processes: int
    backend_spec: str | None = None
    backend_file: str | None = None
    backend_path: tuple[str, ...] = ()
    backend_in_backend_path: bool | None = None
    foreign_finders: tuple[str, ...] = ()
    foreign_path_hooks: tuple[str, ...] = ()
    foreign_paths: tuple[str, ...] = ()
    host_code_ran: tuple[str, ...] = ()
    # Host .pth files of folders only, processed in a build process: a fact, not host code running.
    host_pth_processed: tuple[str, ...] = ()
    # Modules the build imported under a name that is not the frontend's, from the frontend's own files:
    # a folder of the frontend was on the hook's sys.path and shadowed a build requirement (pip #8887).
    shadowed_by_frontend: tuple[str, ...] = ()
    influence: tuple[str, ...] = field(default=())

    def summary(self) -> RunSummary:
        return RunSummary(self.exit_code, self.timed_out, self.hook_processes, self.influence)


def _under(path: str | None, roots: list[str]) -> bool:
    if not path:
        return False
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _is_code(canary: dict[str, Any], code_steps: list[str] | None) -> bool:
    return code_steps is None or canary.get("step") in code_steps


def _in_backend_path(backend_file: str, backend_path: tuple[str, ...]) -> bool:
    """Whether the backend module's file is inside one of the backend-path folders, compared on
    absolute paths without resolving links, as pyproject-hooks does: a backend-path folder may hold a
    link to a backend developed elsewhere (seed 000), and that still counts as loaded from it."""
    name = os.path.normcase(os.path.abspath(backend_file))  # noqa: PTH100 (resolve() would follow links)
    return any(
        name.startswith(os.path.normcase(os.path.abspath(folder)).rstrip(os.sep) + os.sep)  # noqa: PTH100
        for folder in backend_path
    )


def error_signature(log_text: str) -> str | None:
    """The line that names the failure.

    A traceback's last line when there is one; otherwise pip's first specific ``ERROR:`` line. The
    first, because pip follows a failed build-dependency install with consequential errors ("No
    matching distribution found for demo (unavailable)") that hide the cause.
    """
    lines = log_text.splitlines()
    exceptions = [m.group(1).strip() for m in map(_EXCEPTION_LINE.match, lines) if m]
    if exceptions:
        return exceptions[-1][:300]
    errors = [m.group(1).strip() for m in map(_PIP_ERROR_LINE.match, lines) if m]
    specific = [e for e in errors if not e.startswith(_GENERIC_ERRORS)]
    return (specific or errors or [None])[0]


def is_hook_process(report: dict[str, Any]) -> bool:
    argv = report.get("argv") or [""]
    # pyproject-hooks runs each hook as a script named _in_process.py (pep517 did the same).
    if "_in_process" in str(argv[0]):
        return True
    # uv runs each hook as `python -c <script>` that imports the backend; no pyproject-hooks there.
    backend = report.get("backend") or {}
    if backend.get("legacy"):
        # A legacy project's setup.py run by pip itself (`python -c <shim> bdist_wheel`, before 25.3):
        # no hook, but the build happens there, with the setuptools it imported.
        return bool(backend.get("loaded"))
    return str(argv[0]) == "-c" and bool(backend.get("loaded"))


@dataclass
class _Seen:
    """What the hook processes' probe reports show, host entries only, each once and in order."""

    finders: dict[str, None] = field(default_factory=dict)
    path_hooks: dict[str, None] = field(default_factory=dict)
    paths: dict[str, None] = field(default_factory=dict)
    backend_file: str | None = None
    backend_spec: str | None = None
    backend_path: tuple[str, ...] = ()
    shadowed: dict[str, None] = field(default_factory=dict)


def _frontend_package(path: str, frontend: list[str]) -> str | None:
    """The frontend's top-level package whose folder holds ``path`` (``pip`` for pip's vendored files)."""
    real = os.path.realpath(path)
    for root in frontend:
        if real.startswith(root.rstrip(os.sep) + os.sep):
            return Path(root).name
    return None


def _shadowed(report: dict[str, Any], frontend: list[str]) -> list[str]:
    """Modules of a hook process loaded from the frontend's files under another top-level name while
    sys.path also offered a copy of that name: ``colorlog`` from ``pip/_vendor/pep517/colorlog.py``,
    hiding the build requirement ``colorlog``. A folder inside the frontend was on sys.path (pep517 < 0.10
    ran ``_in_process.py`` from its package folder, pip #8887). The hook script's own imports of its
    siblings (pep517's ``compat``) have no other copy and are the frontend's business, not the build's."""
    found = []
    copies = report.get("other_copies") or {}
    for name, path in sorted((report.get("modules") or {}).items()):
        package = _frontend_package(str(path), frontend) if name != "__main__" else None
        hidden = copies.get(name) or []
        if package is not None and name.split(".")[0] != package and hidden:
            found.append(f"{name} ({path}, hiding {hidden[0]})")
    return found


def _seen(hooks: list[dict[str, Any]], foreign: Callable[[str | None], bool], frontend: list[str]) -> _Seen:
    seen = _Seen()
    for report in hooks:
        for entry in _shadowed(report, frontend):
            seen.shadowed[entry] = None
        for entry in report.get("meta_path", []):
            if foreign(entry.get("file")):
                seen.finders[f"{entry['name']} ({entry['file']})"] = None
        for entry in report.get("path_hooks", []):
            if foreign(entry.get("file")):
                seen.path_hooks[f"{entry['name']} ({entry['file']})"] = None
        for entry in report.get("sys_path", []):
            if foreign(entry):
                seen.paths[entry] = None
        backend = report.get("backend") or {}
        if backend.get("file") and seen.backend_file is None:
            seen.backend_file, seen.backend_spec = backend["file"], backend.get("spec")
            seen.backend_path = tuple(backend.get("backend_path") or ())
    return seen


def _canaries(run: dict[str, Any], hooks: list[dict[str, Any]], roots: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    """The contamination steps whose canary fired in a hook process: (code that ran, .pth of folders)."""
    hook_pids = {r.get("pid") for r in hooks}
    fired = [c for c in run.get("reports", []) if c.get("kind") == "canary" and c.get("pid") in hook_pids]
    code_steps = roots.get("code_steps")  # absent in records made before it existed: all were code
    ran = tuple(sorted({f"{c.get('step')} (pid {c.get('pid')})" for c in fired if _is_code(c, code_steps)}))
    processed = tuple(sorted({f"{c.get('step')} (pid {c.get('pid')})" for c in fired if not _is_code(c, code_steps)}))
    return ran, processed


def _influence(
    seen: _Seen, in_backend_path: bool | None, foreign: Callable[[str | None], bool], ran: tuple[str, ...]
) -> tuple[str, ...]:
    influence: list[str] = []
    if seen.backend_file and seen.backend_path and not in_backend_path:
        influence.append(
            f"backend {seen.backend_spec!r} was loaded from {seen.backend_file}, not from its backend-path"
        )
    elif seen.backend_file and not seen.backend_path and foreign(seen.backend_file):
        influence.append(f"backend {seen.backend_spec!r} was loaded from the host environment: {seen.backend_file}")
    influence.extend(f"host import hook on sys.meta_path: {f}" for f in seen.finders)
    influence.extend(f"host path hook on sys.path_hooks: {h}" for h in seen.path_hooks)
    influence.extend(f"host entry on sys.path: {p}" for p in seen.paths)
    influence.extend(f"host code ran in the build: contamination step {c}" for c in ran)
    influence.extend(f"the build imported the frontend's own file under another name: {m}" for m in seen.shadowed)
    return tuple(influence)


def analyze_run(run: dict[str, Any], roots: dict[str, Any], out_dir: Path) -> RunFacts:
    host = [os.path.realpath(p) for p in roots.get("host", []) if p]
    frontend = [os.path.realpath(p) for p in roots.get("frontend", []) if p]
    hooks = [r for r in run.get("reports", []) if r.get("kind") == "probe" and is_hook_process(r)]
    log_file = out_dir / str(run.get("log", ""))
    log_text = log_file.read_text(errors="replace") if log_file.is_file() else ""
    exit_code = run.get("exit_code")

    def foreign(path: str | None) -> bool:
        return _under(path, host) and not _under(path, frontend)

    seen = _seen(hooks, foreign, frontend)
    ran, processed = _canaries(run, hooks, roots)
    in_backend_path = (
        _in_backend_path(seen.backend_file, seen.backend_path) if seen.backend_path and seen.backend_file else None
    )
    return RunFacts(
        exit_code=exit_code if isinstance(exit_code, int) else None,
        timed_out=bool(run.get("timed_out")),
        duration=float(run.get("duration") or 0.0),
        error=error_signature(log_text) if exit_code not in (0, None) else None,
        hook_processes=len(hooks),
        backend_spec=seen.backend_spec,
        backend_file=seen.backend_file,
        backend_path=seen.backend_path,
        backend_in_backend_path=in_backend_path,
        foreign_finders=tuple(seen.finders),
        foreign_path_hooks=tuple(seen.path_hooks),
        foreign_paths=tuple(seen.paths),
        host_code_ran=ran,
        host_pth_processed=processed,
        shadowed_by_frontend=tuple(seen.shadowed),
        influence=_influence(seen, in_backend_path, foreign, ran),
    )
