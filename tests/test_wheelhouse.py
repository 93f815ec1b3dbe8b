from __future__ import annotations

import zipfile
from pathlib import Path

from isolation_harness.wheelhouse import PROBE_PTH, Wheelhouse, sha256_of


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
