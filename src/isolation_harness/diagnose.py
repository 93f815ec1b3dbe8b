"""Diagnose a real project: what did its isolated build actually see?

Builds the user's project twice with the probe: once with the user's own environment as it is (its
interpreter, its pip, its .pth files, environment variables and pip configuration: whatever
contamination it has), and once in a clean cell. It never changes the user's environment: the project
is copied, wheels go to a temporary folder, and pip's cache is not used. This replaces editing pip's
vendored ``_in_process.py`` to print ``sys.path`` (see ../shared/seeds/000 and pypa/pip#11812).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness import frontends, spec
from isolation_harness.cell import SETUP_ALLOWANCE
from isolation_harness.engines import CellJob, Engine
from isolation_harness.errors import InputError
from isolation_harness.evidence import RunFacts, analyze_run, is_hook_process
from isolation_harness.pyproject import LEGACY_BACKEND, insert_probe, parse_toml
from isolation_harness.remedies import try_each
from isolation_harness.sdistproject import read_tree
from isolation_harness.userenv import HANDS_OFF, UserEnv, inspect_env, pip_settings, pythonpath, trace
from isolation_harness.verdict import RunSummary, Verdict, decide
from isolation_harness.wheelhouse import Wheelhouse

MAX_PROJECT_BYTES = 20_000_000
TIMEOUT = 600


@dataclass(frozen=True)
class Diagnosis:
    project: str
    backend: str
    user: RunFacts
    clean: RunFacts | None
    verdict: Verdict
    reasons: tuple[str, ...]
    cause: str
    traced: tuple[str, ...]
    settings: tuple[str, ...]
    requirements_user: tuple[str, ...]
    requirements_clean: tuple[str, ...]
    env: UserEnv
    # What held instead, in the user's environment: each other way their environment offers, run there.
    remedies: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"verdict": self.verdict.value}


def prepare_project(source: str, dest: Path) -> tuple[Path, str]:
    """Copy the project (folder, sdist or VCS URL) into ``dest`` and add the probe to its build requirements.

    Returns the folder and how to offer it to pip: a path, or a git+file URL for VCS sources, so the
    build takes the same route through pip as the user's.
    """
    project = dest / "project"
    if source.startswith("git+"):
        url, _, ref = source[4:].partition("#")[0].rpartition("@") if "@" in source[4:] else (source[4:], "", "")
        url = url or source[4:].partition("#")[0]
        _run(["git", "clone", "-q", url, str(project)], source)
        if ref:
            _run(["git", "-C", str(project), "checkout", "-q", ref], source)
    elif Path(source).is_dir():
        shutil.copytree(source, project, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    elif Path(source).is_file() and source.endswith((".tar.gz", ".zip")):
        unpack = dest / "unpack"
        if source.endswith(".zip"):
            with zipfile.ZipFile(source) as zf:
                zf.extractall(unpack)
        else:
            with tarfile.open(source) as tar:
                tar.extractall(unpack, filter="data")
        (top,) = list(unpack.iterdir()) or [unpack]
        shutil.move(str(top), project)
    else:
        raise InputError(f"diagnose {source}: not a project folder, an sdist (.tar.gz/.zip) or a git+URL")
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise InputError(f"diagnose {source}: no pyproject.toml; the probe joins the [build-system] requirements")
    text = pyproject.read_text()
    data = parse_toml(text)
    if "requires" not in data.get("build-system", {}):
        raise InputError(f"diagnose {source}: pyproject.toml has no [build-system] requires; add one")
    pyproject.write_text(insert_probe(text, str(pyproject)))
    if source.startswith("git+"):
        git = ["git", "-C", str(project), "-c", "user.name=isolation-harness", "-c", "user.email=harness@invalid"]
        _run([*git, "commit", "-q", "-am", "isolation-harness probe"], source)
        name = data.get("project", {}).get("name", "project")
        return project, f"git+file://{project}#egg={name}"
    return project, str(project)


def declared(project: Path) -> tuple[str, list[str]]:
    """The project's build-backend and backend-path as its pyproject.toml declares them."""
    build_system = parse_toml((project / "pyproject.toml").read_text()).get("build-system", {})
    return build_system.get("build-backend", LEGACY_BACKEND), list(build_system.get("backend-path", []))


def user_build(
    env: UserEnv,
    offer: str,
    project: Path,
    wheelhouse: Wheelhouse,
    work: Path,
    *,
    frontend: str = "pip",
    mode: str = frontends.DEFAULT_MODE,
    label: str = "user",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build with the user's interpreter and frontend as they are (pip in ``mode``); returns the raw run
    and the roots."""
    probe_dir = work / f"{label}-probe"
    log = work / label / "output.log"
    log.parent.mkdir(parents=True)
    environ = dict(os.environ, ISOLATION_PROBE_DIR=str(probe_dir), **HANDS_OFF)
    chosen = frontends.get(frontend)
    var = chosen.diagnose_find_links_var
    if var:  # added to, not replacing, what the user set
        environ[var] = chosen.diagnose_find_links_sep.join(filter(None, [os.environ.get(var), str(wheelhouse.root)]))
    # The backend the project declares, for frontends that run hooks without naming it (uv).
    backend, backend_path = declared(project)
    environ.update(ISOLATION_PROBE_BACKEND=backend, ISOLATION_PROBE_BACKEND_PATH=json.dumps(backend_path))
    values = {"target": str(work / "wheels"), "project_dir": str(project), "project_url": offer}
    values.update(wheelhouse=str(wheelhouse.root), python=env.python)
    args = chosen.args(chosen.diagnose_user_args, None, mode) if chosen.has_modes else chosen.diagnose_user_args
    argv = [env.python, "-m", chosen.module, *(arg.format(**values) for arg in args)]
    with log.open("wb") as fh:
        fh.write(("$ " + " ".join(argv) + "\n").encode())
        fh.flush()
        try:
            proc = subprocess.run(argv, env=environ, stdout=fh, stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
            code, timed_out = proc.returncode, False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
    reports = [json.loads(p.read_text()) for p in sorted(probe_dir.glob("*.json"))] if probe_dir.exists() else []
    run = {"exit_code": code, "timed_out": timed_out, "duration": 0.0, "reports": reports, "log": f"{label}/output.log"}
    roots = {
        "host": [env.purelib, env.user_site, *pythonpath()],
        "frontend": [str(Path(env.purelib) / d) for d in frontends.get(frontend).roots],
    }
    return run, roots


def project_files(project: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Every file of the project (but .git): UTF-8 text as it is, anything else base64-encoded, so the
    clean copy is whole (a project whose build reads a binary file must build the same)."""
    files, binary = read_tree(project, what=f"diagnose: the project {project.name}")
    total = sum(len(t) for t in files.values()) + sum(len(b) * 3 // 4 for b in binary.values())
    if total > MAX_PROJECT_BYTES:
        raise InputError(f"diagnose: the project's files are {total} bytes, more than {MAX_PROJECT_BYTES}")
    return files, binary


def clean_build(
    engine: Engine,
    project: Path,
    *,
    offer_vcs: bool,
    python: str,
    pip: str,
    wheelhouse: Wheelhouse,
    work: Path,
    frontend: str = "pip",
) -> tuple[RunFacts | None, dict[str, Any]]:
    files, binary = project_files(project)
    data = parse_toml(files["pyproject.toml"])
    requires = [r for r in data["build-system"]["requires"] if not r.startswith("isolation-harness-probe")]
    wheelhouse.probe_wheel()
    wheelhouse.requirements(requires, python)
    name = data.get("project", {}).get("name", "project")
    wheelhouse.requirements(frontends.get(frontend).requirements, python)
    chosen = frontends.get(frontend)
    driver_spec = spec.build(
        spec.ProjectSpec(
            name=name,
            offer="vcs" if offer_vcs and chosen.offers_vcs else "path",
            files=files,
            binary_files=binary,
        ),
        pip_wheel=wheelhouse.pip_wheel(pip).name,
        frontend=frontend,
        pip_args=chosen.diagnose_args,
        own_args=chosen.diagnose_clean_args,
        backend=declared(project),
        run_timeout=TIMEOUT,
        wheelhouse_hidden=wheelhouse.hidden_from(python),
        control_only=True,
    )
    out = work / "clean"
    outcome = engine.run_cell(CellJob(driver_spec, python, wheelhouse.root, out, TIMEOUT + SETUP_ALLOWANCE))
    try:
        result = json.loads((out / "result.json").read_text())
    except (OSError, ValueError):
        return None, {}
    if outcome.fault or "control" not in result.get("runs", {}):
        return None, {}
    run: dict[str, Any] = result["runs"]["control"]
    return analyze_run(run, result.get("roots", {}), out), run


def requirements_seen(run: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for report in run.get("reports", []):
        if report.get("kind") == "probe" and is_hook_process(report):
            for dist in report.get("distributions", []):
                if not dist.startswith("isolation_harness_probe"):
                    seen[dist.split(" (")[0]] = None
    return sorted(seen)


def cause(user: RunFacts, clean: RunFacts | None, traced: list[str], settings: list[str]) -> str:
    if clean is not None and clean.exit_code == 0 and user.exit_code not in (0, None) and user.hook_processes == 0:
        if settings:
            return f"The build failed before any build hook ran, and your pip settings reach that step: {settings[0]}."
        return f"The build failed before any build hook ran ({user.error or 'see the log'})."
    if user.backend_in_backend_path is False and traced:
        return (
            f"Your environment's import hook loaded the backend from {user.backend_file} instead of its "
            f"backend-path: {traced[0]}."
        )
    if user.influence and traced:
        return f"Your environment reached into the build: {traced[0]}."
    if user.influence:
        return f"Your environment reached into the build: {user.influence[0]}."
    if clean is not None and clean.exit_code != user.exit_code:
        return f"The builds differ in outcome (yours: exit {user.exit_code}, clean: exit {clean.exit_code})."
    return ""


def run_diagnosis(
    source: str,
    *,
    env_python: str,
    python: str | None,
    pip: str | None,
    engine: Engine,
    wheelhouse: Wheelhouse,
    frontend: str = "pip",
) -> Diagnosis:
    env = inspect_env(env_python)
    module = frontends.get(frontend).module
    if not env.modules.get(module, False):
        raise InputError(
            f"--frontend {frontend}: {module} is not installed in {env_python}; pip install {module} there"
        )
    python = python or ".".join(env.version.split(".")[:2])
    pip = pip or env.pip
    with tempfile.TemporaryDirectory(prefix="ih-diagnose-") as tmp:
        work = Path(tmp)
        project, offer = prepare_project(source, work)
        wheelhouse.probe_wheel()
        run, roots = user_build(env, offer, project, wheelhouse, work, frontend=frontend)
        user = analyze_run(run, roots, work)
        clean, clean_run = clean_build(
            engine,
            project,
            offer_vcs=offer.startswith("git+"),
            frontend=frontend,
            python=python,
            pip=pip,
            wheelhouse=wheelhouse,
            work=work,
        )
        backend = declared(project)[0]
        traced = trace(user, env)
        settings = pip_settings(env)
        clean_summary = clean.summary() if clean else RunSummary(None, False, 0, ())
        decision = decide(clean_summary, user.summary(), harness_fault=None if clean else "the clean build did not run")
        remedies: tuple[str, ...] = ()
        if clean is not None and decision.verdict is not Verdict.HELD:
            remedies = _what_held_instead(
                env, offer, project, wheelhouse=wheelhouse, work=work, frontend=frontend, clean=clean_summary
            )
    return Diagnosis(
        source,
        backend,
        user,
        clean,
        decision.verdict,
        decision.reasons,
        cause(user, clean, traced, settings),
        tuple(traced),
        tuple(settings),
        tuple(requirements_seen(run)),
        tuple(requirements_seen(clean_run)),
        env,
        remedies,
    )


def _what_held_instead(
    env: UserEnv, offer: str, project: Path, *, wheelhouse: Wheelhouse, work: Path, frontend: str, clean: RunSummary
) -> tuple[str, ...]:
    """The build again in the user's environment, each other way it offers (remedies.py)."""

    def run_one(other: str, mode: str) -> RunFacts:
        label = f"try-{frontends.label(other, None, mode)}"
        alt, alt_roots = user_build(env, offer, project, wheelhouse, work, frontend=other, mode=mode, label=label)
        return analyze_run(alt, alt_roots, work)

    return try_each(env, wheelhouse, (frontend, frontends.DEFAULT_MODE), clean, run_one)


def account(d: Diagnosis) -> str:
    """A short, readable account for the terminal."""
    u, c = d.user, d.clean
    if d.verdict is Verdict.HELD:
        return (
            f"clean build: {d.project} built the same in your environment and in a clean one, "
            "and its build saw nothing of your environment."
        )
    lines = [f"diagnosis of {d.project} (backend {d.backend!r}): {d.verdict.value}"]
    lines.append(
        f"  your environment ({d.env.python}, pip {d.env.pip}): exit {u.exit_code}"
        + (f", {u.error}" if u.error else "")
    )
    lines.append(
        f"    backend loaded from: {u.backend_file or 'not loaded'}"
        + ("" if u.backend_in_backend_path is None else f" (in backend-path: {u.backend_in_backend_path})")
    )
    if c is not None:
        lines.append(f"  clean cell: exit {c.exit_code}" + (f", {c.error}" if c.error else ""))
        lines.append(f"    backend loaded from: {c.backend_file or 'not loaded'}")
    if d.traced:
        lines.append("  from your environment, in the build:")
        lines.extend(f"    - {t}" for t in d.traced)
    for item in u.host_code_ran:
        lines.append(f"    - host code ran in the build: {item}")
    if d.settings:
        lines.append("  your pip settings that reach the build-dependency install: " + "; ".join(d.settings))
    if d.requirements_user:
        lines.append("  build requirements in your build: " + ", ".join(d.requirements_user))
    if d.cause:
        lines.append(f"  most likely cause: {d.cause}")
    if d.remedies:
        lines.append("  what to do: the other ways your environment offers, each run there on this project:")
        lines.extend(f"    - {line}" for line in d.remedies)
    return "\n".join(lines)


def _run(argv: list[str], option: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InputError(
            f"diagnose {option}: {argv[0]} {argv[1]} failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})"
        )
