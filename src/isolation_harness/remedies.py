"""What to do about a build that did not hold: the other ways the user's own environment offers to
build the project (pip's isolation modes that their pip has, the other frontends installed there),
each run there with the probe and judged against the clean build. Nothing is guessed: a way that was
not run is named with the reason it was not.
"""

from __future__ import annotations

from collections.abc import Callable

from packaging.version import Version

from isolation_harness import frontends
from isolation_harness.errors import InputError
from isolation_harness.evidence import RunFacts
from isolation_harness.userenv import UserEnv
from isolation_harness.verdict import RunSummary, Verdict, decide
from isolation_harness.wheelhouse import Wheelhouse

# Runs the project's build in the user's environment with (frontend, mode); returns what the probe saw.
RunOne = Callable[[str, str], RunFacts]


def alternatives(env: UserEnv, wheelhouse: Wheelhouse, tried: tuple[str, str]) -> list[tuple[str, str, str]]:
    """(frontend, mode, why not) for every other way: why-not empty when it can run in ``env``."""
    ways: list[tuple[str, str, str]] = []
    features = _pip_features(env.pip, wheelhouse)
    for mode in frontends.MODE_NAMES:
        if ("pip", mode) == tried:
            continue
        # The planner's own rule (frontends.Mode), the pip's --use-feature list read from its wheel.
        why = frontends.MODES[mode].not_applicable(Version(env.pip), features) if features is not None else None
        ways.append(("pip", mode, why or ""))
    for name in frontends.names(diagnose=True):
        if name == "pip" or (name, frontends.DEFAULT_MODE) == tried:
            continue
        module = frontends.get(name).module
        installed = env.modules.get(module, False)
        ways.append((name, frontends.DEFAULT_MODE, "" if installed else f"not installed there (pip install {module})"))
    return ways


def try_each(
    env: UserEnv, wheelhouse: Wheelhouse, tried: tuple[str, str], clean: RunSummary, run_one: RunOne
) -> tuple[str, ...]:
    """One line per other way: held or not in the user's environment (each run), or why it was not run."""
    lines = []
    for frontend, mode, why_not in alternatives(env, wheelhouse, tried):
        label = _command(frontend, mode)
        if why_not:
            lines.append(f"{label}: not run, {why_not}")
            continue
        facts = run_one(frontend, mode)
        decision = decide(clean, facts.summary(), harness_fault=None)
        detail = "" if decision.verdict is Verdict.HELD else f" ({decision.reasons[0]})" if decision.reasons else ""
        lines.append(f"{label}: {decision.verdict.value}{detail}")
    return tuple(lines)


def _command(frontend: str, mode: str) -> str:
    """How the user would run it: `pip --use-feature=venv-isolation`, `python -m build`."""
    if frontend == "pip":
        return " ".join(("pip", *frontends.MODES[mode].flags))
    return f"python -m {frontends.get(frontend).module}"


def _pip_features(version: str, wheelhouse: Wheelhouse) -> frozenset[str] | None:
    """The --use-feature values of the user's pip release (None: not a release; every mode is tried)."""
    try:
        return wheelhouse.pip_features(version)
    except InputError:
        return None
