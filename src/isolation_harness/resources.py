"""Where the harness's data lives: the image recipes, the scenario catalogue and the default matrix.

They ship inside the wheel (``isolation_harness/_data``, put there by the build backend from the
repository's top-level ``containers/``, ``scenarios/`` and ``matrix.yaml``), so an installed harness
runs from any folder. In a source checkout installed in editable mode the package has no ``_data``
and the repository's own folders are used.

A user's own ``./scenarios`` and ``./matrix.yaml`` win over the bundled ones, and every run says which
it used (first output line and ``plan.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isolation_harness.errors import InputError

_PACKAGE = Path(__file__).resolve().parent


def data_root() -> Path:
    """The folder holding ``containers/``, ``scenarios/`` and ``matrix.yaml``."""
    bundled = _PACKAGE / "_data"
    if (bundled / "containers").is_dir():
        return bundled
    checkout = _PACKAGE.parents[1]  # src/isolation_harness -> the repository
    if (checkout / "containers").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    raise InputError(
        f"{_PACKAGE}: the package has no bundled data (containers/, scenarios/, matrix.yaml); "
        "reinstall isolation-harness from its wheel or sdist"
    )


def containers() -> Path:
    return data_root() / "containers"


@dataclass(frozen=True)
class Source:
    """A scenario folder or matrix file and how it was chosen: given, ./ (found here) or bundled."""

    kind: str  # scenarios or matrix
    path: Path  # as given, or relative to the current folder: error messages name it so
    origin: str

    def describe(self) -> str:
        return f"{self.kind} {self.path.resolve()} ({self.origin})"


def scenarios_dir(given: Path | None) -> Source:
    if given is not None:
        if not given.is_dir():
            raise InputError(f"--scenarios-dir {given}: no such folder; pass a folder of scenario files")
        return Source("scenarios", given, "--scenarios-dir")
    here = Path("scenarios")
    if here.is_dir() and any(here.glob("*.yaml")):
        return Source("scenarios", here, "./scenarios")
    return Source("scenarios", data_root() / "scenarios", "bundled")


def matrix_file(given: Path | None) -> Source:
    if given is not None:
        if not given.is_file():
            raise InputError(f"--matrix {given}: no such file; pass a matrix YAML file")
        return Source("matrix", given, "--matrix")
    here = Path("matrix.yaml")
    if here.is_file():
        return Source("matrix", here, "./matrix.yaml")
    return Source("matrix", data_root() / "matrix.yaml", "bundled")
