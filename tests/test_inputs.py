"""The pip that makes a scenario's editable installs: the newest of inputs.EDITABLE_PIPS that runs on
the cell's Python, or one line naming the list, never the oldest silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from isolation_harness.errors import InputError
from isolation_harness.inputs import EDITABLE_PIPS, editable_pip


class House:
    def __init__(self, requires: dict[str, str]) -> None:
        self.requires = requires

    def requires_python(self, version: str) -> SpecifierSet:
        return SpecifierSet(self.requires[version])

    def pip_wheel(self, version: str) -> Path:
        return Path(f"pip-{version}-py3-none-any.whl")


def test_the_newest_that_runs_there() -> None:
    house = House({EDITABLE_PIPS[0]: ">=3.10", EDITABLE_PIPS[1]: ">=3.9", EDITABLE_PIPS[2]: ">=3.8"})
    assert editable_pip(house, "3.12").name == f"pip-{EDITABLE_PIPS[0]}-py3-none-any.whl"  # type: ignore[arg-type]
    assert editable_pip(house, "3.8").name == f"pip-{EDITABLE_PIPS[2]}-py3-none-any.whl"  # type: ignore[arg-type]


def test_none_runs_there_is_one_line() -> None:
    house = House(dict.fromkeys(EDITABLE_PIPS, ">=3.9"))
    with pytest.raises(InputError, match=r"--python 3\.8: none of the pips that make editable installs"):
        editable_pip(house, "3.8")  # type: ignore[arg-type]


def test_a_pips_facts_are_read_from_its_wheel_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning asks them once per cell; the catalogue is tens of thousands of cells (issue 19)."""
    from isolation_harness import wheelhouse as module
    from isolation_harness.wheelhouse import Wheelhouse

    house = Wheelhouse(tmp_path / "house")
    wheel = tmp_path / "pip-25.0-py3-none-any.whl"
    wheel.write_bytes(b"x")
    reads: list[str] = []
    monkeypatch.setattr(house, "pip_wheel", lambda version: wheel)

    def requires(path: Path) -> SpecifierSet:
        reads.append("rp")
        return SpecifierSet(">=3.8")

    def features(path: Path) -> frozenset[str]:
        reads.append("f")
        return frozenset({"x"})

    monkeypatch.setattr(house._view, "requires_python", requires)
    monkeypatch.setattr(module, "read_features", features)
    for _ in range(3):
        assert house.requires_python("25.0") == SpecifierSet(">=3.8")
        assert house.pip_features("25.0") == frozenset({"x"})
    assert reads == ["rp", "f"]
    wheel.write_bytes(b"another file")  # the same label, another wheel: read again
    house.requires_python("25.0")
    assert reads == ["rp", "f", "rp"]


def test_diagnose_offers_each_mode_by_the_planners_own_rule() -> None:
    """What held instead (remedies): a mode the user's pip lacks is not run, for the reason the
    planner gives a not-applicable cell (frontends.Mode), with the release that added it."""
    from isolation_harness.errors import InputError
    from isolation_harness.remedies import alternatives
    from isolation_harness.userenv import UserEnv

    class Features:
        def pip_features(self, version: str) -> frozenset[str]:
            if version == "25.0":
                return frozenset({"fast-deps"})
            raise InputError("not a release")

    def env(pip: str) -> UserEnv:
        return UserEnv("/usr/bin/python3", "3.11.9", pip, "/site", "/user", {}, {"build": True, "uv": False})

    ways = {(f, m): why for f, m, why in alternatives(env("25.0"), Features(), ("pip", "default"))}  # type: ignore[arg-type]
    assert ways[("pip", "venv-isolation")].startswith(
        "pip 25.0 has no --use-feature=venv-isolation, first released in pip 26.2"
    )
    assert ("pip", "default") not in ways
    assert ways[("build", "default")] == ""
    assert ways[("uv", "default")] == "not installed there (pip install uv)"
    # A pip that is not a release (a checkout): every mode is tried.
    ways = {(f, m): why for f, m, why in alternatives(env("26.3.dev0"), Features(), ("pip", "default"))}  # type: ignore[arg-type]
    assert ways[("pip", "venv-isolation")] == ""
