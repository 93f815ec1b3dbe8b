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
