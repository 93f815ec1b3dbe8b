"""The docker engine: one fresh container per cell, removed whatever happens.

Inside a cell: a non-root user, no network, memory and process limits, every capability dropped,
no-new-privileges, the wheel directory mounted read-only and nothing else of the host. The driver is
the container's command; its output folder is copied out when it exits. The SDK's ``wait`` is the
time limit: past it the container is killed and the cell recorded as a timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from isolation_harness.engines.base import CellJob, EngineInfo, JobOutcome
from isolation_harness.errors import EngineUnavailable
from isolation_harness.images import Image, ImageBuilder, prefix
from isolation_harness.probe import DRIVER_FILES
from isolation_harness.spec import CellPaths, DriverSpec

CELL = "/cell"
HARNESS = "/cell/harness"
OUT = "/cell/out"
WHEELS = "/wheels"
PREPARED = "/cell/prepared"
GO = f"{HARNESS}/go"  # put with the spec when the cell's turn comes (driver.py --when)
LABEL_CELL = "org.isolation-harness.cell"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
HOW_TO_START = (
    "start one (as root: dockerd > /var/log/dockerd.log 2>&1 &, or systemctl start docker) or use --engine local"
)


def connect() -> Any:
    """A docker client whose daemon answered, or EngineUnavailable with how to start one."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise EngineUnavailable("--engine docker: the docker SDK is not installed; pip install docker") from None
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not Path(host[len("unix://") :]).exists():
        # Checked first: the SDK would leave the failed socket for the garbage collector to close.
        raise EngineUnavailable(f"--engine docker: no Docker daemon socket at {host[len('unix://') :]}; {HOW_TO_START}")
    client = None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as exc:
        if client is not None:
            client.close()
        reason = str(exc).split("(")[0].strip().rstrip(":")
        raise EngineUnavailable(f"--engine docker: no Docker daemon answered ({reason}); {HOW_TO_START}") from None
    return client


def daemon_answers() -> bool:
    try:
        connect()
    except EngineUnavailable:
        return False
    return True


class DockerEngine:
    name = "docker"

    def __init__(
        self,
        client: Any | None = None,
        *,
        keep: bool = False,
        prepared: bool = True,
        memory: str = "2g",
        pids: int = 512,
        log: Callable[[str], None] | None = None,
        recipe: str | None = None,
    ) -> None:
        self.client = client if client is not None else connect()
        self.keep = keep
        self.prepared = prepared
        self._prepare_locks: dict[str, threading.Lock] = {}
        self.memory = memory
        self.pids = pids
        self.images = ImageBuilder(self.client, recipe=recipe, log=log)
        self._active: dict[str, Any] = {}
        self._identities: dict[str, dict[str, str]] = {}
        self._prepare_failed: set[str] = set()
        self._lock = threading.Lock()
        self._aborted = False
        # Set by pipeline(): how many drivers may run at once. Without it (a cell run on its own)
        # nothing waits.
        self._slots: threading.BoundedSemaphore | None = None
        version = self.client.version()
        self._server = f"Docker {version.get('Version')} (API {version.get('ApiVersion')})"

    def info(self, image: Image | None = None) -> EngineInfo:
        notes = (self._server, "network none, non-root, all capabilities dropped, wheel directory read-only")
        return EngineInfo(
            name=self.name,
            isolation="container",
            notes=notes,
            image=image.tag if image else None,
            image_id=image.id if image else None,
            image_recipe=image.recipe if image else None,
            image_base=image.base if image else None,
            base_packages=image.base_packages if image else None,
        )

    def check_python(self, python: str) -> str:
        return self.images.get(python).version

    def cache_identity(self, python: str) -> dict[str, str] | None:
        """The image as its inputs made it, not its id: a rebuild of the same recipe on the same base
        (another runner, another week) gets a new id and must reuse the same results. A pulled base
        (the official python:X.Y-slim) has the same id everywhere: the digest of its configuration."""
        import docker.errors

        from isolation_harness.images import recipe_hash

        image = self.images.get(python)
        with self._lock:  # asked for every cell: worked out once per image
            if image.id not in self._identities:
                try:
                    base_id = str(self.client.images.get(image.base).id)
                except docker.errors.ImageNotFound:  # the base removed since the build: the image stands for it
                    base_id = image.id
                self._identities[image.id] = {
                    "engine": self.name,
                    "recipe": image.recipe,
                    "recipe_sha256": recipe_hash(image.recipe),
                    "base": image.base,
                    "base_id": base_id,
                    "python": image.version,
                    "base_packages": image.base_packages,
                    "memory": self.memory,
                    "pids": str(self.pids),
                }
            return dict(self._identities[image.id])

    def pipeline(self, jobs: int) -> int:
        """``jobs`` drivers run at once, and twice as many workers each start their next cell's
        container ahead of its turn (the driver waits, ``driver.py --when``): a container's start,
        its output's copy and its removal then overlap the running cells instead of coming between
        them (0.4 s of every 3.5 s cell, measured on 2 cores; issue 19)."""
        self._slots = threading.BoundedSemaphore(max(1, jobs))
        return 2 * max(1, jobs)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[float]:
        """Hold one of the running slots; yields how long it waited for it (seconds)."""
        asked = time.monotonic()
        if self._slots is None:
            yield 0.0
            return
        with self._slots:
            yield time.monotonic() - asked

    def _prepared(self, base: Image, spec: DriverSpec, wheelhouse: Path) -> Image | None:
        """The image of a prepared environment for this cell, made once (a committed container layer).

        Keyed by everything that goes into it, so a new pip wheel, interpreter, frontend, host
        requirement or driver makes a new one and nothing stale is reused. The leading installs are
        the spec's own count, the one the driver trusts when it lays them over the venv.

        None when preparing fails (pip 19.0 cannot install anything on Python 3.11): the cell then
        runs without one, its driver makes the same installs, and its record says why it failed. A
        whole run once stopped here on the first such pip.
        """
        import docker.errors

        wheel = wheelhouse / spec.pip_wheel
        key = hashlib.sha256(
            json.dumps(
                [
                    base.id,
                    wheel.name,
                    hashlib.sha256(wheel.read_bytes()).hexdigest(),
                    list(spec.frontend_requirements),
                    spec.leading_requirements,
                    [hashlib.sha256(path.read_bytes()).hexdigest() for path in DRIVER_FILES],
                ]
            ).encode()
        ).hexdigest()[:24]
        tag = f"{prefix()}/env:{key}"
        with self._lock:
            lock = self._prepare_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._prepare_failed:
                return None
            try:
                found = self.client.images.get(tag)
                return dataclasses.replace(base, tag=tag, id=found.id)
            except docker.errors.ImageNotFound:
                pass
            prepare_spec = spec.to_json(_paths(prepared=PREPARED, prepare_key=key))
            with self._slot():  # making one is a cell's worth of work: it waits its turn as a cell does
                return self._prepare(base, key, prepare_spec, wheelhouse)

    def _prepare(self, base: Image, key: str, prepare_spec: dict[str, Any], wheelhouse: Path) -> Image | None:
        import docker.errors

        container = self._create(
            base,
            [base.python, "-I", "-S", f"{HARNESS}/driver.py", f"{HARNESS}/spec.json", "--prepare"],
            wheelhouse,
            label="prepare",
        )
        try:
            container.put_archive(CELL, _harness_tar(prepare_spec))
            container.start()
            code = int(container.wait(timeout=900).get("StatusCode", -1))
            if code != 0:
                self._prepare_failed.add(key)
                return None
            committed = container.commit(repository=f"{prefix()}/env", tag=key)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        return dataclasses.replace(base, tag=f"{prefix()}/env:{key}", id=committed.id)

    def _create(self, image: Image, command: list[str], wheelhouse: Path, *, label: str) -> Any:
        """A container with the cell's confinement; every cell and every containment test uses this."""
        return self.client.containers.create(
            image.id,
            command=command,
            user="1000:1000",
            working_dir=CELL,
            environment={"HOME": CELL, "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
            network_mode="none",
            mem_limit=self.memory,
            memswap_limit=self.memory,
            pids_limit=self.pids,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            volumes={str(wheelhouse): {"bind": WHEELS, "mode": "ro"}},
            labels={LABEL_CELL: label},
            detach=True,
        )

    def run_command(
        self, python: str, command: list[str], wheelhouse: Path, *, timeout: float = 120
    ) -> tuple[int, str]:
        """Run one command in a cell-confined container (for containment checks); removed after."""
        container = self._create(self.images.get(python), command, wheelhouse, label="command")
        try:
            container.start()
            code = int(container.wait(timeout=timeout).get("StatusCode", -1))
            return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True)

    def abort(self) -> None:
        """Kill every running cell (Ctrl-C, SIGTERM): each run_cell then removes its container."""
        with self._lock:
            self._aborted = True
            containers = list(self._active.values())
        for container in containers:
            with contextlib.suppress(Exception):  # already gone is fine
                container.kill()

    def run_cell(self, job: CellJob) -> JobOutcome:
        import docker.errors
        import requests.exceptions

        image = self.images.get(job.python)
        info = self.info(image)
        paths = _paths()
        prepared = self._prepared(image, job.spec, job.wheelhouse) if self.prepared else None
        if prepared is not None:
            image, paths = prepared, _paths(prepared=PREPARED)
        spec = job.spec.to_json(paths)
        container = self._create(
            image,
            [image.python, "-I", "-S", f"{HARNESS}/driver.py", f"{HARNESS}/spec.json", "--when", GO],
            job.wheelhouse,
            label=job.out_dir.name,
        )
        with self._lock:
            self._active[container.id] = container
        timed_out = False
        fault: str | None = None
        queued = 0.0
        try:
            container.put_archive(CELL, _driver_tar())
            if self._aborted:
                raise KeyboardInterrupt
            container.start()  # the driver waits for GO: started ahead of the cell's turn
            with self._slot() as queued:
                if self._aborted:
                    raise KeyboardInterrupt
                # The spec, then GO: the tar is unpacked in order, so the spec is whole when GO is there.
                container.put_archive(CELL, _harness_tar(spec, go=True, driver=False))
                try:
                    status = container.wait(timeout=job.time_limit)
                    code = int(status.get("StatusCode", -1))
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    timed_out = True
                    container.kill()
                    code = -1
            job.out_dir.mkdir(parents=True, exist_ok=True)
            (job.out_dir / "driver.log").write_bytes(container.logs(stdout=True, stderr=True))
            if not timed_out:
                _copy_out(container, OUT, job.out_dir)
                if code == 137 and container.attrs.get("State", {}).get("OOMKilled"):
                    fault = f"the cell ran out of its {self.memory} memory limit"
                elif code != 0:
                    fault = f"the cell driver exited {code} (see driver.log)"
            if self._aborted:
                raise KeyboardInterrupt
        except docker.errors.APIError as exc:
            fault = f"docker: {str(exc).splitlines()[0]}"
        finally:
            with self._lock:
                self._active.pop(container.id, None)
            if not self.keep:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
        return JobOutcome(timed_out, fault, info, queued=round(queued, 3))


def _paths(*, prepared: str | None = None, prepare_key: str | None = None) -> CellPaths:
    return CellPaths(CELL, OUT, WHEELS, SYSTEM_PATH, prepared=prepared, prepare_key=prepare_key)


def _harness_tar(spec: dict[str, Any] | None, *, go: bool = False, driver: bool = True) -> bytes:
    """The harness folder for /cell: the driver's files, its spec, and GO (the cell's turn) last."""
    entries: list[tuple[str, bytes | None, int]] = []
    if driver:
        entries += [("harness", None, 0o755), *((f"harness/{p.name}", p.read_bytes(), 0o644) for p in DRIVER_FILES)]
    if spec is not None:
        entries.append(("harness/spec.json", json.dumps(spec).encode(), 0o644))
    if go:
        entries.append(("harness/go", b"", 0o644))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 1000
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@functools.cache
def _driver_tar() -> bytes:
    """The driver's files alone, read once (every cell's container gets them before its turn)."""
    return _harness_tar(None)


def _copy_out(container: Any, source: str, dest: Path) -> None:
    """Copy a folder out of the (stopped) container; only regular files and folders, nothing outside."""
    import docker.errors

    try:
        stream, _ = container.get_archive(source)
    except docker.errors.NotFound:
        return
    data = b"".join(stream)
    root = Path(source).name
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not parts or parts[0] != root or ".." in parts or not (member.isfile() or member.isdir()):
                continue
            target = dest.joinpath(*parts[1:]) if len(parts) > 1 else dest
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            extracted = tar.extractfile(member)
            if extracted is not None:
                target.write_bytes(extracted.read())
