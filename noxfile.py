# /// script
# dependencies = ["nox>=2024.4.15"]
# ///
"""Sessions of isolation-harness: one `scenario-<name>` per file in scenarios/, plus tests and lint.

The noxfile only calls the CLI; the work lives in the package.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
_SUMMARY = re.compile(r"""^summary:\s*(["']?)(.*)\1\s*$""", re.MULTILINE)


def _summary(path: Path) -> str:
    # Read without importing the package (the session installs it): the schema keeps summaries one line.
    match = _SUMMARY.search(path.read_text(encoding="utf-8"))
    return match.group(2) if match else f"replay scenarios/{path.name}"


def _make_scenario_session(path: Path) -> None:
    name = path.stem

    def session(session: nox.Session) -> None:
        session.install("-e", ".")
        session.run("isolation-harness", "run", "--scenario", name, *session.posargs)

    session.__doc__ = _summary(path)
    nox.session(name=f"scenario-{name}", default=False, tags=["scenarios"])(session)


for _path in sorted(SCENARIOS.glob("*.yaml")):
    _make_scenario_session(_path)


@nox.session(default=True)
def tests(session: nox.Session) -> None:
    """Run the test suite (engine tests included; pass -m 'not engine' for unit tests only)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def images(session: nox.Session) -> None:
    """Build the docker images for the Pythons in matrix.yaml (reused when present)."""
    session.install("-e", ".")
    session.run("isolation-harness", "images", *session.posargs)


@nox.session(default=False)
def validate(session: nox.Session) -> None:
    """The whole catalogue against a candidate pip and the newest release: nox -s validate -- --pip <candidate>."""
    session.install("-e", ".")
    session.run("isolation-harness", "validate", *session.posargs)


@nox.session(default=False)
def bisect(session: nox.Session) -> None:
    """First pip release where a verdict changes: nox -s bisect -- --scenario S --python X.Y --good A --bad B."""
    session.install("-e", ".")
    session.run("isolation-harness", "bisect", *session.posargs)


@nox.session(default=False)
def shards(session: nox.Session) -> None:
    """Print the GitHub job matrix (JSON) for the catalogue: one shard per scenario and Python."""
    session.install("-e", ".", silent=True)
    session.run("isolation-harness", "shards", *session.posargs, silent=False)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Cold and warm timings of metapath x 6 Pythons x 4 pips on docker (pass --full for the whole matrix)."""
    session.install("-e", ".")
    session.run("isolation-harness", "bench", *session.posargs)


@nox.session(default=False)
def rehearse(session: nox.Session) -> None:
    """Run regression.yml, ci.yml and action.yml for real here (stand-ins for uses: and gh; HEAD is cloned)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.rehearse", *session.posargs)


@nox.session(default=True)
def lint(session: nox.Session) -> None:
    """Ruff and mypy (strict) over the package, the tests and this noxfile."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
