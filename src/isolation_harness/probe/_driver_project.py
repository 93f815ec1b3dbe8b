"""The project under test in the cell: its files written, and how the frontend is given it (a git
repository it clones, the folder's path, or a source archive pinned by its sha256).

Standard library only; runs on Python 3.8 (see driver.py).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import tarfile

MYPY = False
if MYPY:  # pragma: no cover - for the type comments only
    from .driver import _Cell  # noqa: F401

if __package__:  # imported as part of the package (tests), or as the driver's sibling in a cell
    from ._driver_base import GIT_ENV, _run, _write
else:  # pragma: no cover - in a cell
    from _driver_base import GIT_ENV, _run, _write  # type: ignore[no-redef,import-not-found,unused-ignore]


def write(c):  # type: (_Cell) -> None
    """The project's files in the cell: its text files, its binary ones (diagnose copies a real
    project whole: they travel base64-encoded), files outside it, and its symlinks."""
    project = c.spec["project"]
    for rel, text in project["files"].items():
        _write(os.path.join(c.src, rel), text)
    for rel, data in project.get("binary_files", {}).items():
        path = os.path.join(c.src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as binary:
            binary.write(base64.b64decode(data))
    for rel, text in project.get("outside", {}).items():
        _write(os.path.join(c.cell, rel), text)
    for rel, target in project.get("links", {}).items():
        link = os.path.join(c.src, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target.format(cell=c.cell), link)


def offer(c):  # type: (_Cell) -> str | None
    """How the frontend is given the project: a git repository it clones, the folder's path, or a
    source archive of it (with a requirements file that pins its sha256, for hash-checking mode)."""
    project = c.spec["project"]
    if project["offer"] == "sdist":
        c.project_url, digest = sdist(c.src, os.path.join(c.cell, "dist"), project["name"])
        _write(c.requirements_file, "%s --hash=sha256:%s\n" % (c.project_url, digest))
        return None
    if project["offer"] != "vcs":
        c.project_url = c.src
        return None
    git_env = dict(c.env, **GIT_ENV)
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "project under test"]):
        if _run(argv, git_env, c.src, c.setup_log, 120)["exit_code"] != 0:
            return "git failed to create the project repository: %s" % argv
    # `name @ git+file:///...` is refused by old pips ("looks like a path"); #egg= works on 19-26.
    c.project_url = "git+file://%s#egg=%s" % (c.src, project["name"])
    return None


def sdist(src, folder, name):  # type: (str, str, str) -> tuple[str, str]
    """The project folder as a source archive <name>-<version>.tar.gz, byte for byte the same in every
    cell (sorted members, fixed owner and dates), and its sha256."""
    if os.path.isfile(os.path.join(src, "pyproject.toml")):
        with open(os.path.join(src, "pyproject.toml")) as fh:
            found = re.search(r"""(?m)^version\s*=\s*["']([^"']+)["']""", fh.read())
    else:  # a legacy project: setup(..., version="1.0", ...)
        with open(os.path.join(src, "setup.py")) as fh:
            found = re.search(r"""\bversion\s*=\s*["']([^"']+)["']""", fh.read())
    stem = "%s-%s" % (name, found.group(1) if found else "0")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, stem + ".tar.gz")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for root, dirs, files in os.walk(src):
                dirs.sort()
                for entry in sorted(files):
                    full = os.path.join(root, entry)
                    info = tar.gettarinfo(full, arcname=os.path.join(stem, os.path.relpath(full, src)))
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 946684800, 0, 0, "", ""
                    with open(full, "rb") as member:
                        tar.addfile(info, member)
    with open(path, "rb") as fh:
        return path, hashlib.sha256(fh.read()).hexdigest()
