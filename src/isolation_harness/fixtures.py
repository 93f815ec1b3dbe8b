"""Fixtures: projects too large to write inline, kept as folders in scenarios/fixtures and read
strictly (text files only, nothing that leads out of the folder)."""

from __future__ import annotations

from pathlib import PurePosixPath

from isolation_harness._strict import Node

FIXTURES = "fixtures"  # scenarios/fixtures/<folder>: projects too large to write inline
MAX_FIXTURE_BYTES = 2_000_000


def fixture_files(node: Node) -> dict[str, str]:
    """The text files of a fixture folder, refusing anything that leads out of it."""
    name = node.text()
    base = (node.path.parent / FIXTURES).resolve()
    check_relative(node, name)
    root = base / name
    if not root.is_dir():
        node.fail(f"no folder {root}", f"put the project in {base}/{name}/")
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            node.fail(f"{rel} is a symlink out of the fixture ({path.resolve()})", "copy the file in instead")
        if path.is_dir() or "__pycache__" in rel.split("/"):
            continue
        try:
            files[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            node.fail(f"{rel} is not a UTF-8 text file", "fixtures carry text files only")
        total += len(files[rel])
        if total > MAX_FIXTURE_BYTES:
            node.fail(f"more than {MAX_FIXTURE_BYTES} bytes of files", "keep fixtures small")
    return files


def check_relative(node: Node, rel: str) -> None:
    """Project files are written into the cell: no absolute paths, no way out of the project."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or "\\" in rel or rel.startswith("~"):
        node.fail("file names must be relative paths inside the project", "drop the leading '/' or '..'")
