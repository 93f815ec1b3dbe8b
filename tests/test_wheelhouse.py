from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from isolation_harness.errors import InputError
from isolation_harness.wheelhouse import PROBE_PTH, Artifact, Wheelhouse, probe_requirement, sha256_of


def test_probe_wheel_is_deterministic_and_complete(tmp_path: Path) -> None:
    first = Wheelhouse(tmp_path / "a").probe_wheel()
    second = Wheelhouse(tmp_path / "b").probe_wheel()
    assert sha256_of(first) == sha256_of(second)
    with zipfile.ZipFile(first) as wheel:
        names = wheel.namelist()
        assert PROBE_PTH in names
        assert "_ih_probe.py" in names
        record = wheel.read(next(n for n in names if n.endswith("RECORD"))).decode()
        assert all(name in record for name in names)
        assert wheel.read(PROBE_PTH) == b"import _ih_probe; _ih_probe.install()\n"


def _wheel(folder: Path, name: str, version: str, requires_python: str | None) -> None:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", meta)


def test_cells_see_the_wheels_an_index_would_offer_their_python(tmp_path: Path) -> None:
    # A flat directory cannot tell pip a file's Requires-Python; pip < 20.3 would take build 1.6.1
    # on Python 3.8 and fail with "requires a different Python" where PyPI serves 1.2.2.
    _wheel(tmp_path, "build", "1.6.1", ">= 3.10")
    _wheel(tmp_path, "build", "1.2.2", ">= 3.8")
    _wheel(tmp_path, "six", "1.16.0", None)
    wheelhouse = Wheelhouse(tmp_path)
    assert wheelhouse.hidden_from("3.8") == ["build-1.6.1-py3-none-any.whl"]
    assert wheelhouse.hidden_from("3.10") == []


def test_the_view_is_worked_out_once_per_state_of_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning asks for every cell; a wheel added (or removed) since is seen at once."""
    from isolation_harness import wheelview

    _wheel(tmp_path, "build", "1.6.1", ">= 3.10")
    wheelhouse = Wheelhouse(tmp_path)
    assert wheelhouse.hidden_from("3.8") == ["build-1.6.1-py3-none-any.whl"]
    calls: list[str] = []
    monkeypatch.setattr(wheelview.WheelView, "_wheel_requires_python", lambda self, p: calls.append(p.name))
    assert wheelhouse.hidden_from("3.8") == ["build-1.6.1-py3-none-any.whl"]  # the answer kept
    assert wheelhouse.hidden_from("3.8", keep={"pip-25.0-py3-none-any.whl"}) == ["build-1.6.1-py3-none-any.whl"]
    assert calls == []
    monkeypatch.undo()
    _wheel(tmp_path, "zipp", "3.21.0", ">= 3.9")
    assert wheelhouse.hidden_from("3.8") == ["build-1.6.1-py3-none-any.whl", "zipp-3.21.0-py3-none-any.whl"]
    (tmp_path / "build-1.6.1-py3-none-any.whl").unlink()
    assert wheelhouse.hidden_from("3.8") == ["zipp-3.21.0-py3-none-any.whl"]


def test_cells_see_only_the_sdists_their_scenario_asked_for(tmp_path: Path) -> None:
    # zipp's sdist, fetched for a diagnosed project, once made pip 25.0 on 3.8 build zipp from source
    # (offline, without setuptools_scm) while installing build 1.2.2's dependencies.
    _wheel(tmp_path, "zipp", "3.20.0", ">= 3.8")
    (tmp_path / "zipp-3.21.0.tar.gz").write_bytes(b"")
    (tmp_path / "setuptools-75.8.0.tar.gz").write_bytes(b"")
    wheelhouse = Wheelhouse(tmp_path)
    assert wheelhouse.hidden_from("3.8") == ["setuptools-75.8.0.tar.gz", "zipp-3.21.0.tar.gz"]
    assert wheelhouse.hidden_from("3.8", keep={"setuptools-75.8.0.tar.gz"}) == ["zipp-3.21.0.tar.gz"]


def _fake_python(folder: Path, *, fail: bool = False) -> Path:
    """An "interpreter" whose `-m pip download -d DIR` writes one wheel and logs each call."""
    folder.mkdir()
    script = folder / "python"
    body = (
        'echo "ERROR: No matching distribution found for nothing" >&2; exit 1\n'
        if fail
        else 'while [ "$1" != "-d" ]; do shift; done\nprintf wheel > "$2/six-1.16.0-py2.py3-none-any.whl"\n'
    )
    script.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls"\n{body}')
    script.chmod(0o755)
    return script


def test_download_runs_once_per_key(tmp_path: Path) -> None:
    python = _fake_python(tmp_path / "bin")
    wheelhouse = Wheelhouse(tmp_path / "wheels")
    for _ in range(2):
        files = wheelhouse.download(["six"], key="k", failure="six could not be downloaded", python=python)
        assert files == ["six-1.16.0-py2.py3-none-any.whl"]
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert len(calls) == 1
    assert calls[0].startswith("-I -m pip download --disable-pip-version-check -q -d ")
    assert calls[0].endswith(" six")
    wheel = wheelhouse.root / files[0]
    assert stat.S_IMODE(wheel.stat().st_mode) == 0o644  # cells read it as an unprivileged user
    assert wheelhouse.artifact(wheel) == Artifact(wheel.name, hashlib.sha256(b"wheel").hexdigest())


def test_download_failure_quotes_pips_last_line(tmp_path: Path) -> None:
    wheelhouse = Wheelhouse(tmp_path / "wheels")
    with pytest.raises(InputError) as info:
        wheelhouse.download(
            ["nothing"], key="k", failure="nothing to get", python=_fake_python(tmp_path / "bin", fail=True)
        )
    assert info.value.message == "nothing to get (ERROR: No matching distribution found for nothing)"


def test_candidates_are_kept_with_their_source(tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.mkdir()
    _wheel(built, "pip", "25.1.dev0", ">=3.9")
    wheelhouse = Wheelhouse(tmp_path / "wheels")
    label = "25.1.dev0+checkout.1a2b3c4d"
    source = {"kind": "checkout", "origin": "/src/pip", "commit": "1a2b3c4d"}
    kept = wheelhouse.register_pip(label, built / "pip-25.1.dev0-py3-none-any.whl", source=source)
    assert kept == wheelhouse.root / f"pip-{label}-py3-none-any.whl"
    assert wheelhouse.pip_wheel(label) == kept
    assert wheelhouse.provenance(label) == source
    assert wheelhouse.requires_python(label) == SpecifierSet(">=3.9")
    assert wheelhouse.provenance("25.1.dev0+git.00000000") is None
    # The same folder, opened again (another process), still knows the candidate.
    assert Wheelhouse(tmp_path / "wheels").pip_wheel(label) == kept
    with pytest.raises(InputError, match=r"--pip 9\.9\+x: no such candidate in .*; pass its source again"):
        wheelhouse.pip_wheel("9.9+x")


def test_add_file_and_probe_requirement(tmp_path: Path) -> None:
    _wheel(tmp_path, "six", "1.16.0", None)
    wheelhouse = Wheelhouse(tmp_path / "wheels")
    source = tmp_path / "six-1.16.0-py3-none-any.whl"
    added = wheelhouse.add_file(source)
    assert added == wheelhouse.root / source.name
    assert added.read_bytes() == source.read_bytes()
    assert wheelhouse.add_file(source) == added
    assert probe_requirement().startswith("isolation-harness-probe==")
    assert (
        wheelhouse.probe_wheel().name
        == f"isolation_harness_probe-{probe_requirement().split('==')[1]}-py3-none-any.whl"
    )
