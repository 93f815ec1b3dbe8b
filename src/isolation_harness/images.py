"""Images for the docker engine: one per Python, built from the recipes in ``containers/``.

Two recipes, chosen per Python:
- ``local`` (offline, these machines): the Debian root filesystem made by ``containers/rootfs.sh``
  (debootstrap + ``docker import``) plus an interpreter copied from a local prefix (pyenv);
- ``slim`` (a machine that reaches a registry): the official ``python:X.Y-slim`` image plus git.
Images are reused when present; the image id and the exact interpreter version go into every record.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from isolation_harness.engines.local import exact_version, find_interpreter
from isolation_harness.errors import InputError

if TYPE_CHECKING:
    from docker import DockerClient


def prefix() -> str:
    """The repository prefix of every image the harness makes; the benchmark uses its own."""
    return os.environ.get("ISOLATION_HARNESS_IMAGE_PREFIX", "isolation-harness")


def rootfs_tag() -> str:
    return f"{prefix()}/rootfs:bookworm"


LABEL_PYTHON = "org.isolation-harness.python"
LABEL_VERSION = "org.isolation-harness.python-version"
CONTAINERS = Path(__file__).resolve().parents[2] / "containers"


@dataclass(frozen=True)
class Image:
    tag: str
    id: str
    python: str  # the interpreter's path inside the image
    version: str  # its exact version
    recipe: str


def tag_for(python: str) -> str:
    return f"{prefix()}/python:{python}"


class ImageBuilder:
    def __init__(self, client: DockerClient, *, log: Any = None) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._cache: dict[str, Image] = {}
        self._log = log or (lambda message: None)

    def get(self, python: str, *, build: bool = True) -> Image:
        """The image for ``python``, built on first use when ``build`` is set."""
        with self._lock:
            if python in self._cache:
                return self._cache[python]
            image = self._existing(python)
            if image is None:
                if not build:
                    raise InputError(f"--python {python}: no image {tag_for(python)}; build it with 'nox -s images'")
                image = self._build(python)
            self._cache[python] = image
            return image

    def _existing(self, python: str) -> Image | None:
        import docker.errors

        try:
            found = self.client.images.get(tag_for(python))
        except docker.errors.ImageNotFound:
            return None
        recipe = (found.labels or {}).get("org.isolation-harness.recipe", "")
        if recipe in ("local", "slim") and (found.labels or {}).get(LABEL_RECIPE_HASH) != recipe_hash(recipe):
            return None  # made by an older recipe: build it again rather than run cells on it
        return _describe(found, python)

    def _build(self, python: str) -> Image:
        # auto: the local recipe when this machine has the interpreter (offline machines), else slim.
        # CI runners set ISOLATION_HARNESS_IMAGE_RECIPE=slim: their system Pythons are not pyenv builds.
        recipe = os.environ.get("ISOLATION_HARNESS_IMAGE_RECIPE", "auto")
        exe = find_interpreter(python) if recipe in ("auto", "local") else None
        if exe is not None:
            return self._build_local(python, exe)
        if recipe == "local":
            raise InputError(f"--python {python}: ISOLATION_HARNESS_IMAGE_RECIPE=local but no local interpreter")
        return self._build_slim(python)

    def _build_local(self, python: str, exe: Path) -> Image:
        prefix = exe.resolve().parent.parent
        version = exact_version(exe)
        self._ensure_rootfs()
        self._log(f"building image {tag_for(python)} from {prefix} (recipe: local)")
        with tempfile.TemporaryDirectory() as tmp:
            context = _local_context(prefix, python, Path(tmp) / "context.tar")
            args = {
                "BASE": rootfs_tag(),
                "PREFIX": str(prefix),
                "PYTHON_VERSION": version,
                "RECIPE_HASH": recipe_hash("local"),
            }
            with context.open("rb") as stream:
                self._run_build(stream, tag_for(python), args)
        image = self._existing(python)
        assert image is not None
        return image

    def _build_slim(self, python: str) -> Image:
        self._log(f"building image {tag_for(python)} from python:{python}-slim (recipe: slim)")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            _add_bytes(tar, "Dockerfile", (CONTAINERS / "Dockerfile.slim").read_bytes())
        try:
            self._run_build(
                io.BytesIO(buffer.getvalue()), tag_for(python), {"PYTHON": python, "RECIPE_HASH": recipe_hash("slim")}
            )
        except InputError:
            raise InputError(
                f"--python {python}: no local interpreter (pyenv install {python}) and python:{python}-slim "
                "could not be pulled; install one or drop this Python"
            ) from None
        image = self._existing(python)
        assert image is not None
        return image

    def _ensure_rootfs(self) -> None:
        import docker.errors

        try:
            self.client.images.get(rootfs_tag())
            return
        except docker.errors.ImageNotFound:
            pass
        if shutil.which("debootstrap") is None:
            raise InputError(
                f"image {rootfs_tag()} is missing and debootstrap is not installed: "
                "apt-get install debootstrap (or run on a machine with a registry for the slim recipe)"
            )
        self._log(f"building {rootfs_tag()} with debootstrap (about a minute)")
        proc = subprocess.run(
            ["bash", str(CONTAINERS / "rootfs.sh"), rootfs_tag()], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"containers/rootfs.sh failed to build {rootfs_tag()}: {last}")

    def _run_build(self, context: IO[bytes], tag: str, buildargs: dict[str, str]) -> None:
        import docker.errors

        try:
            self.client.images.build(
                fileobj=context, custom_context=True, tag=tag, buildargs=buildargs, rm=True, pull=False
            )
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise InputError(f"building image {tag} failed: {str(exc).splitlines()[0]}") from None


LABEL_RECIPE_HASH = "org.isolation-harness.recipe-sha256"


def recipe_hash(recipe: str) -> str:
    """sha256 of a recipe's Dockerfile: an image made by another version of it is not reused."""
    return hashlib.sha256((CONTAINERS / f"Dockerfile.{recipe}").read_bytes()).hexdigest()


def _describe(found: Any, python: str) -> Image:
    labels = found.labels or {}
    env = dict(item.split("=", 1) for item in (found.attrs.get("Config", {}).get("Env") or []) if "=" in item)
    version = labels.get(LABEL_VERSION) or env.get("PYTHON_VERSION") or python
    return Image(
        tag=tag_for(python),
        id=found.id,
        python=labels.get(LABEL_PYTHON, "/usr/local/bin/python3"),
        version=version,
        recipe=labels.get("org.isolation-harness.recipe", "unknown"),
    )


def _local_context(prefix: Path, python: str, dest: Path) -> Path:
    """A build context (a tar file, streamed to the daemon: it is hundreds of MB) with the Dockerfile
    and the interpreter prefix, its site-packages left empty."""
    site = re.compile(rf"^prefix/lib/python{re.escape(python)}/site-packages/.+")
    with tarfile.open(dest, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", (CONTAINERS / "Dockerfile.local").read_bytes())

        def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            if site.match(info.name) or info.name.endswith("/test"):
                return None
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        tar.add(prefix, arcname="prefix", filter=keep)
    return dest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644, uid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.uid = info.gid = uid
    tar.addfile(info, io.BytesIO(data))
