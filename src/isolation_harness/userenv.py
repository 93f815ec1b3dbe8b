"""The user's environment as diagnose reads it (never writes): its interpreter, pip, .pth files and
the pip settings that reach a build-dependency install, and where each host entry in a build came from."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from isolation_harness import frontends
from isolation_harness.errors import InputError
from isolation_harness.evidence import RunFacts

# pip settings that reach the pip subprocess installing build dependencies (pip #11275, #12744, #9404)
REACHING_SETTINGS = (
    "constraint",
    "target",
    "no-deps",
    "prefix",
    "user",
    "no-build-isolation",
    "only-binary",
    "no-binary",
    "require-hashes",
    "root",
    "home",
)


# The user's environment is only read: no bytecode written into it, no self-check of pip's version.
HANDS_OFF = {"PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@dataclass(frozen=True)
class UserEnv:
    python: str
    version: str
    pip: str
    purelib: str
    user_site: str
    pth_files: dict[str, list[str]]  # path -> lines
    modules: dict[str, bool] = field(default_factory=dict)  # the frontends' modules: importable there?


def _modules() -> list[str]:
    return sorted({frontends.get(name).module for name in frontends.names(diagnose=True)})


def inspect_env(python: str) -> UserEnv:
    code = (
        "import json, site, sys, sysconfig, os\n"
        "import pip\n"
        "pure = sysconfig.get_paths()['purelib']\n"
        "dirs = [pure, site.getusersitepackages()] + [p for p in sys.path if p.endswith('-packages')]\n"
        "pth = {}\n"
        "for d in dict.fromkeys(dirs):\n"
        "    if os.path.isdir(d):\n"
        "        for n in sorted(os.listdir(d)):\n"
        "            if n.endswith('.pth'):\n"
        "                p = os.path.join(d, n)\n"
        "                pth[p] = open(p, errors='replace').read().splitlines()\n"
        "import importlib.util\n"
        "print(json.dumps({'version': '.'.join(map(str, sys.version_info[:3])), 'pip': pip.__version__,\n"
        f"  'modules': {{m: importlib.util.find_spec(m) is not None for m in {_modules()!r}}},\n"
        "  'purelib': pure, 'user_site': site.getusersitepackages(), 'pth': pth}))\n"
    )
    try:
        proc = subprocess.run(
            [python, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=dict(os.environ, **HANDS_OFF),
        )
    except OSError as exc:
        raise InputError(f"--env-python {python}: cannot run it ({exc.strerror})") from None
    if proc.returncode != 0:
        raise InputError(
            f"--env-python {python}: has no working pip ({(proc.stderr.strip().splitlines() or ['?'])[-1]})"
        )
    data = json.loads(proc.stdout)
    return UserEnv(
        python, data["version"], data["pip"], data["purelib"], data["user_site"], data["pth"], data["modules"]
    )


def trace(facts: RunFacts, env: UserEnv) -> list[str]:
    """Each host finder, path hook and path entry, traced to the .pth file or variable that brought it."""
    lines = []
    for entry in (*facts.foreign_finders, *facts.foreign_path_hooks):
        dotted = entry.split(" (", 1)[0].rpartition(".")[0]  # the finder's module: editables.redirector
        sources = [p for p, lines_ in env.pth_files.items() if any(dotted in line for line in lines_)]
        # A .pth that imports a module of its own, which installs a finder from a package (hatchling's
        # `_editable_impl_devlib` installs the `editables` package's RedirectingFinder).
        sources += [f"{p} (through {m})" for p, m in _pth_imports(env) if not sources and _mentions(p, m, dotted)]
        origin = f"installed by {', '.join(sources)}" if sources else "origin not found in any .pth file"
        lines.append(f"{entry}: {origin}")
    from_variable = pythonpath()
    for entry in facts.foreign_paths:
        if entry in from_variable:
            lines.append(f"sys.path entry {entry}: from the PYTHONPATH environment variable")
        else:
            sources = [p for p, lines_ in env.pth_files.items() if entry in lines_]
            lines.append(
                f"sys.path entry {entry}: " + (f"listed in {', '.join(sources)}" if sources else "origin unknown")
            )
    return lines


def _pth_imports(env: UserEnv) -> list[tuple[str, str]]:
    """(.pth file, module it imports) for every import line of the environment's .pth files."""
    found: list[tuple[str, str]] = []
    for path, lines in env.pth_files.items():
        for line in lines:
            if line.startswith(("import ", "import\t")):
                first = line.split(";")[0].split()[1:]
                found.extend((path, name.strip(",")) for name in first)
    return found


def _mentions(pth: str, module: str, dotted: str) -> bool:
    """Whether the module a .pth imports (a file beside it) names the finder's module or package."""
    source = Path(pth).parent / f"{module.replace('.', '/')}.py"
    try:
        text = source.read_text(errors="replace")
    except OSError:
        return False
    package = dotted.split(".", maxsplit=1)[0]
    return dotted in text or f"import {package}" in text or f"from {package}" in text


def pip_settings(env: UserEnv) -> list[str]:
    """User pip settings (config files and PIP_* variables) that reach the build-dependency install."""
    found = [
        f"{k}={v} (environment)"
        for k, v in sorted(os.environ.items())
        if k.startswith("PIP_") and k[4:].lower().replace("_", "-") in REACHING_SETTINGS
    ]
    proc = subprocess.run(
        [env.python, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, **HANDS_OFF),
    )
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.split(".")[-1] in REACHING_SETTINGS:
            found.append(f"{key}={value} (pip config)")
    return found


def pythonpath() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
