"""The pips under test in the wheel directory: releases from the index, and candidates built on the host.

A release is downloaded once under the key ``pip==<version>``; a candidate (a checkout, a git ref, a
wheel, or a pyproject-hooks overlay: see pipsource.py) is registered under its PEP 440 local label
(``25.1.dev0+checkout.1a2b3c4d``) with the record of where it came from.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path
from typing import Any

from isolation_harness.errors import InputError
from isolation_harness.wheelstore import WheelStore


class PipReleases:
    """The registry of pip wheels, by version or label, kept in a wheel store."""

    def __init__(self, store: WheelStore) -> None:
        self._store = store

    def pip_wheel(self, version: str) -> Path:
        """The wheel of one pip release, downloaded on first use, or of a registered candidate."""
        if "+" in version:  # a candidate built or overlaid on the host: see pipsource.py
            entry = self._store.entry(f"pip=={version}")
            if entry is None:
                raise InputError(f"--pip {version}: no such candidate in {self._store.root}; pass its source again")
            return self._store.root / str(entry["files"][0])
        files = self._store.download(
            ["--no-deps", f"pip=={version}"],
            key=f"pip=={version}",
            failure=f"--pip {version}: pip {version} could not be downloaded from the index; "
            "check the release exists (pip index versions pip) or fix matrix.yaml",
        )
        wheels = [f for f in files if f.startswith("pip-") and f.endswith(".whl")]
        if not wheels:
            raise InputError(f"--pip {version}: no wheel of pip {version} was found; pick a release with a wheel")
        return self._store.root / wheels[0]

    def register_pip(self, label: str, wheel: Path, *, source: dict[str, Any]) -> Path:
        """Keep a non-release pip wheel under its label, with where it came from."""
        return self._store.keep(f"pip-{label}-py3-none-any.whl", wheel.read_bytes(), key=f"pip=={label}", source=source)

    def provenance(self, label: str) -> dict[str, Any] | None:
        """Where a non-release pip came from (None for releases from the index)."""
        entry = self._store.entry(f"pip=={label}")
        source = entry.get("source") if entry else None
        return source if isinstance(source, dict) else None


# Where every pip since 20.2 declares the values its `--use-feature` accepts.
_CMDOPTIONS = "pip/_internal/cli/cmdoptions.py"


def read_features(wheel: Path) -> frozenset[str]:
    """The ``--use-feature`` values a pip wheel accepts, read from its own option table (the list
    literal given as ``choices`` to ``use_new_feature``): a mode applies where its pip says so, not
    where a table of ours guesses. A pip without the option (before 20.2) accepts none."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            source = archive.read(_CMDOPTIONS).decode("utf-8")
    except (KeyError, OSError, zipfile.BadZipFile):
        return frozenset()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "use_new_feature" for t in targets) and node.value:
                return _choices(node.value)
    return frozenset()


def _choices(call: ast.expr) -> frozenset[str]:
    for node in ast.walk(call):
        if isinstance(node, ast.keyword) and node.arg == "choices":
            return frozenset(
                item.value
                for item in ast.walk(node.value)
                if isinstance(item, ast.Constant) and isinstance(item.value, str)
            )
    return frozenset()
