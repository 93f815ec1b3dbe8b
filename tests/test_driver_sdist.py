"""The `sdist` offer: the project as a source archive the driver makes in the cell, byte for byte the
same in every cell (so its sha256, pinned in {project_requirements}, replays), for hash-checking mode."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from isolation_harness.probe import _driver_project as project
from isolation_harness.probe import driver as drv


def _project(root: Path, version: str = "1.0") -> Path:
    src = root / "src" / "demo"
    (src / "pkg").mkdir(parents=True)
    (src / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "{version}"\n')
    (src / "pkg" / "__init__.py").write_text("")
    (src / "setup.py").write_text("")
    return src


def test_the_archive_is_named_by_version_holds_the_project_and_replays(tmp_path: Path) -> None:
    one, digest_one = project.sdist(str(_project(tmp_path / "a")), str(tmp_path / "a" / "dist"), "demo")
    _, digest_two = project.sdist(str(_project(tmp_path / "b")), str(tmp_path / "b" / "dist"), "demo")
    assert Path(one).name == "demo-1.0.tar.gz"
    assert digest_one == digest_two == hashlib.sha256(Path(one).read_bytes()).hexdigest()
    with tarfile.open(one) as tar:
        assert tar.getnames() == ["demo-1.0/pyproject.toml", "demo-1.0/setup.py", "demo-1.0/pkg/__init__.py"]
        assert {m.mtime for m in tar.getmembers()} == {946684800}
    other, digest_other = project.sdist(str(_project(tmp_path / "c", "2.0")), str(tmp_path / "c" / "dist"), "demo")
    assert Path(other).name == "demo-2.0.tar.gz"
    assert digest_other != digest_one


def test_an_sdist_offer_writes_the_hashed_requirements_file(tmp_path: Path) -> None:
    src = _project(tmp_path / "cell")
    c = drv._Cell(
        {
            "cell_dir": str(tmp_path / "cell"),
            "out_dir": str(tmp_path / "out"),
            "project": {"name": "demo", "offer": "sdist"},
        }
    )
    c.src = str(src)
    c.env = {"PIP_FIND_LINKS": str(tmp_path / "wheels"), "PATH": "/usr/bin"}
    assert project.offer(c) is None
    archive = Path(c.project_url)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert Path(c.requirements_file).read_text() == f"{archive} --hash=sha256:{digest}\n"
    assert c.values("control")["project_requirements"] == c.requirements_file
