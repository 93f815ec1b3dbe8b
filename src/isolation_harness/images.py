"""Images for the docker engine: one per Python and recipe, built from the recipes in ``containers/``.

Two recipes:
- ``local`` (offline, these machines): the Debian root filesystem made by ``containers/rootfs.sh``
  (debootstrap + ``docker import``) plus an interpreter copied from a local prefix (pyenv);
- ``slim`` (GitHub runners, a machine that reaches a registry): the official ``python:X.Y-slim`` image
  plus git. Its base is a build argument: ``ISOLATION_HARNESS_SLIM_BASE`` names another image (a
  template with ``{python}``), and ``standin`` builds an offline stand-in with the official image's
  layout (``containers/Dockerfile.standin``), so the slim recipe runs where no registry is reachable.
Both fill the base site-packages with ``containers/base-packages.txt``'s set (what the official images
carry), so a cell's base interpreter looks the same whichever recipe made it. Images are reused when
present and made by the same recipe files; the image id, recipe, base and base packages go into every
record.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from isolation_harness import resources
from isolation_harness.engines.local import exact_version, find_interpreter
from isolation_harness.errors import InputError

if TYPE_CHECKING:
    from docker import DockerClient

    from isolation_harness.wheelhouse import Wheelhouse

RECIPES = ("local", "slim")
STANDIN = "standin"
LABEL_PYTHON = "org.isolation-harness.python"
LABEL_VERSION = "org.isolation-harness.python-version"
LABEL_RECIPE = "org.isolation-harness.recipe"
LABEL_RECIPE_HASH = "org.isolation-harness.recipe-sha256"
LABEL_BASE = "org.isolation-harness.base"
LABEL_BASE_PACKAGES = "org.isolation-harness.base-packages"
# Only CPython's own scripts of a local prefix go into an image (pyenv's bin also holds the scripts of
# whatever its site-packages had); pip's are made again with the pinned base pip.
_CPYTHON_SCRIPTS = re.compile(r"^(python3?(\.\d+)?(-config|-gdb\.py)?|pydoc3?(\.\d+)?|idle3?(\.\d+)?|2to3(-3\.\d+)?)$")


def prefix() -> str:
    """The repository prefix of every image the harness makes; the benchmark uses its own."""
    return os.environ.get("ISOLATION_HARNESS_IMAGE_PREFIX", "isolation-harness")


def rootfs_tag() -> str:
    return f"{prefix()}/rootfs:bookworm"


def standin_tag(python: str) -> str:
    return f"{prefix()}/standin:{python}-slim"


@dataclass(frozen=True)
class Image:
    tag: str
    id: str
    python: str  # the interpreter's path inside the image
    version: str  # its exact version
    recipe: str
    base: str = ""  # what the image was built on (the slim recipe's base image, or the root filesystem)
    base_packages: str = ""  # the base site-packages, pinned (containers/base-packages.txt)


def tag_for(python: str, recipe: str = "local") -> str:
    return f"{prefix()}/python:{python}" + ("-slim" if recipe == "slim" else "")


def chosen_recipe(python: str, recipe: str | None = None) -> str:
    """``local`` when this machine has the interpreter (offline machines), else ``slim``; CI runners set
    ISOLATION_HARNESS_IMAGE_RECIPE=slim: their system Pythons are not pyenv builds."""
    wanted = recipe or os.environ.get("ISOLATION_HARNESS_IMAGE_RECIPE", "auto")
    if wanted not in ("auto", *RECIPES):
        raise InputError(f"ISOLATION_HARNESS_IMAGE_RECIPE={wanted}: unknown recipe; use auto, local or slim")
    if wanted == "auto":
        return "local" if find_interpreter(python) is not None else "slim"
    return wanted


def slim_base(python: str) -> str:
    """The slim recipe's base image: the official one unless ISOLATION_HARNESS_SLIM_BASE says otherwise."""
    template = os.environ.get("ISOLATION_HARNESS_SLIM_BASE", "") or "python:{python}-slim"
    return standin_tag(python) if template == STANDIN else template.replace("{python}", python)


def base_packages(python: str) -> list[str]:
    """The pinned base site-packages of ``python`` (containers/base-packages.txt)."""
    path = resources.containers() / "base-packages.txt"
    for line in path.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == python:
            return fields[1:]
    raise InputError(f"--python {python}: {path} has no base packages for it; add a line '{python} pip==...'")


def recipe_hash(recipe: str) -> str:
    """sha256 of a recipe's files: an image made by another version of them is not reused."""
    digest = hashlib.sha256()
    for name in (f"Dockerfile.{recipe}", "base-site.sh", "base-packages.txt"):
        digest.update((resources.containers() / name).read_bytes())
    if recipe == "slim" and os.environ.get("ISOLATION_HARNESS_SLIM_BASE", "") == STANDIN:
        digest.update((resources.containers() / "Dockerfile.standin").read_bytes())
    return digest.hexdigest()


class ImageBuilder:
    def __init__(
        self,
        client: DockerClient,
        *,
        recipe: str | None = None,
        wheelhouse: Wheelhouse | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.recipe = recipe  # None: ISOLATION_HARNESS_IMAGE_RECIPE, else auto
        self._wheelhouse = wheelhouse
        self._lock = threading.Lock()
        self._cache: dict[str, Image] = {}
        self._log = log or (lambda message: None)

    def get(self, python: str, *, build: bool = True) -> Image:
        """The image for ``python``, built on first use when ``build`` is set."""
        recipe = chosen_recipe(python, self.recipe)
        with self._lock:
            if python in self._cache:
                return self._cache[python]
            image = self._existing(python, recipe)
            if image is None:
                if not build:
                    raise InputError(
                        f"--python {python}: no image {tag_for(python, recipe)}; build it with 'nox -s images'"
                    )
                image = self._build_local(python) if recipe == "local" else self._build_slim(python)
            self._cache[python] = image
            return image

    def _existing(self, python: str, recipe: str) -> Image | None:
        import docker.errors

        try:
            found = self.client.images.get(tag_for(python, recipe))
        except docker.errors.ImageNotFound:
            return None
        labels = found.labels or {}
        if labels.get(LABEL_RECIPE_HASH) != recipe_hash(recipe) or labels.get(LABEL_BASE, "") != self._base(
            python, recipe
        ):
            return None  # made by an older recipe or on another base: build it again rather than run cells on it
        return _describe(found, python, recipe)

    def _base(self, python: str, recipe: str) -> str:
        return rootfs_tag() if recipe == "local" else slim_base(python)

    def _house(self) -> Wheelhouse:
        if self._wheelhouse is None:
            from isolation_harness.wheelhouse import Wheelhouse, default_location

            self._wheelhouse = Wheelhouse(default_location())
        return self._wheelhouse

    def _base_context(self, tar: tarfile.TarFile, python: str, recipe: str) -> dict[str, str]:
        """Add the recipe, base-site.sh and the pinned base wheels to a build context; the build args."""
        pins = base_packages(python)
        _add_bytes(tar, "Dockerfile", (resources.containers() / f"Dockerfile.{recipe}").read_bytes())
        _add_bytes(tar, "base-site.sh", (resources.containers() / "base-site.sh").read_bytes())
        for wheel in self._house().requirements(pins, python):
            tar.add(wheel, arcname=f"base-wheels/{wheel.name}")
        return {"BASE_PACKAGES": " ".join(pins)}

    def _build_local(self, python: str) -> Image:
        self._build_on_rootfs(
            python,
            "local",
            tag_for(python),
            lambda exe, prefix_dir: {
                "BASE": rootfs_tag(),
                "PREFIX": str(prefix_dir),
                "PYTHON_VERSION": exact_version(exe),
                "RECIPE_HASH": recipe_hash("local"),
            },
            labels={LABEL_BASE: rootfs_tag()},
        )
        return self._built(python, "local")

    def _build_slim(self, python: str) -> Image:
        base = slim_base(python)
        if base == standin_tag(python):
            self._build_standin(python)
        self._log(f"building image {tag_for(python, 'slim')} from {base} (recipe: slim)")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            args = self._base_context(tar, python, "slim")
        args |= {"PYTHON": python, "BASE": base, "RECIPE_HASH": recipe_hash("slim")}
        try:
            self._run_build(io.BytesIO(buffer.getvalue()), tag_for(python, "slim"), args, labels={LABEL_BASE: base})
        except InputError as exc:
            raise InputError(
                f"--python {python}: the slim recipe could not build on {base} ({exc.message}); "
                f"without a registry set ISOLATION_HARNESS_SLIM_BASE=standin, or use the local recipe"
            ) from None
        return self._built(python, "slim")

    def _build_standin(self, python: str) -> None:
        """The offline stand-in for python:X.Y-slim (containers/Dockerfile.standin), rebuilt when it changed."""
        import docker.errors

        tag = standin_tag(python)
        digest = recipe_hash("slim")
        try:
            if (self.client.images.get(tag).labels or {}).get(LABEL_RECIPE_HASH) == digest:
                return
        except docker.errors.ImageNotFound:
            pass
        self._build_on_rootfs(
            python,
            "standin",
            tag,
            lambda exe, prefix_dir: {
                "ROOTFS": rootfs_tag(),
                "PYTHON": python,
                "PYTHON_VERSION": exact_version(exe),
                "ORIGINAL_PREFIX": str(prefix_dir),
            },
            labels={LABEL_RECIPE_HASH: digest},
        )

    def _build_on_rootfs(
        self,
        python: str,
        recipe: str,
        tag: str,
        build_args: Callable[[Path, Path], dict[str, str]],
        *,
        labels: dict[str, str],
    ) -> None:
        """An image of the root filesystem plus this machine's interpreter (the local recipe, the stand-in)."""
        exe = find_interpreter(python)
        if exe is None:
            raise InputError(
                f"--python {python}: the {recipe} recipe needs a local interpreter and there is none "
                f"(pyenv install {python}, or ISOLATION_HARNESS_IMAGE_RECIPE=slim on a machine with a registry)"
            )
        prefix_dir = exe.resolve().parent.parent
        self._ensure_rootfs()
        self._log(f"building image {tag} from {prefix_dir} (recipe: {recipe})")
        with tempfile.TemporaryDirectory() as tmp:
            context = Path(tmp) / "context.tar"
            with tarfile.open(context, mode="w") as tar:
                args = self._base_context(tar, python, recipe)
                _add_prefix(tar, prefix_dir, python)
            with context.open("rb") as stream:
                self._run_build(stream, tag, args | build_args(exe, prefix_dir), labels=labels)

    def _built(self, python: str, recipe: str) -> Image:
        image = self._existing(python, recipe)
        if image is None:
            raise InputError(f"image {tag_for(python, recipe)} was built but does not carry its recipe's labels")
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
            ["bash", str(resources.containers() / "rootfs.sh"), rootfs_tag()],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"containers/rootfs.sh failed to build {rootfs_tag()}: {last}")

    def _run_build(
        self, context: IO[bytes], tag: str, buildargs: dict[str, str], *, labels: dict[str, str] | None = None
    ) -> None:
        import docker.errors

        try:
            self.client.images.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                buildargs=buildargs,
                labels=labels or {},
                rm=True,
                forcerm=True,
                pull=False,
            )
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise InputError(f"building image {tag} failed: {_build_failure(exc)}") from None


def _build_failure(exc: Exception) -> str:
    """The last line the build printed, not the first: that is where a RUN step says what went wrong."""
    log = getattr(exc, "build_log", None) or []
    lines = [str(item.get("stream", "")).strip() for item in log if isinstance(item, dict)]
    lines = [line for line in lines if line and not line.startswith(("Step ", "--->", "Removing"))]
    return (lines[-1] + "; " if lines else "") + str(exc).splitlines()[0]


def _describe(found: Any, python: str, recipe: str) -> Image:
    labels = found.labels or {}
    env = dict(item.split("=", 1) for item in (found.attrs.get("Config", {}).get("Env") or []) if "=" in item)
    return Image(
        tag=tag_for(python, recipe),
        id=found.id,
        python=labels.get(LABEL_PYTHON, "/usr/local/bin/python3"),
        version=labels.get(LABEL_VERSION) or env.get("PYTHON_VERSION") or python,
        recipe=labels.get(LABEL_RECIPE, "unknown"),
        base=labels.get(LABEL_BASE, ""),
        base_packages=labels.get(LABEL_BASE_PACKAGES, ""),
    )


def _add_prefix(tar: tarfile.TarFile, prefix_dir: Path, python: str) -> None:
    """The interpreter prefix (hundreds of MB: the context is a file streamed to the daemon), its
    site-packages left empty, its test suite and foreign scripts left out."""
    site = re.compile(rf"^prefix/lib/python{re.escape(python)}/site-packages/.+")

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if site.match(info.name) or info.name.endswith("/test"):
            return None
        parts = info.name.split("/")
        if len(parts) == 3 and parts[1] == "bin" and not _CPYTHON_SCRIPTS.match(parts[2]):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    tar.add(prefix_dir, arcname="prefix", filter=keep)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644, uid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.uid = info.gid = uid
    tar.addfile(info, io.BytesIO(data))
