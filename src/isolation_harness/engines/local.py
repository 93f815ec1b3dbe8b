"""The local engine: a scrubbed temporary folder and a base interpreter from pyenv or PATH.

Weaker than a container, and every record says so: cells share this machine's kernel, users, files
outside the cell (``/etc/pip.conf`` is read by every pip), and, unless ``unshare`` can cut it, network.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from isolation_harness.engines.base import CellJob, EngineInfo, JobOutcome
from isolation_harness.errors import InputError
from isolation_harness.probe import DRIVER
from isolation_harness.spec import CellPaths

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


@functools.cache
def find_interpreter(python: str) -> Path | None:
    """The newest pyenv build of ``python`` (e.g. 3.12 -> versions/3.12.1), else ``python3.12`` on PATH."""
    versions = pyenv_root() / "versions"
    if versions.is_dir():
        found = []
        for entry in versions.iterdir():
            match = re.fullmatch(re.escape(python) + r"\.(\d+)", entry.name)
            exe = entry / "bin" / "python3"
            if match and exe.exists():
                found.append((int(match.group(1)), exe))
        if found:
            return max(found)[1]
    on_path = shutil.which(f"python{python}")
    return Path(on_path) if on_path else None


@functools.cache
def exact_version(exe: Path) -> str:
    out = subprocess.run(
        [str(exe), "-I", "-S", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


@functools.lru_cache(maxsize=1)
def can_unshare_network() -> bool:
    """Root can give each cell an empty network namespace, so even a misbehaving pip has no network."""
    if shutil.which("unshare") is None:
        return False
    try:
        return (
            subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False, timeout=10).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


class LocalEngine:
    name = "local"

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self._active: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._aborted = False

    def pipeline(self, jobs: int) -> int:
        """A process has nothing to set up ahead of its turn: one thread per running cell."""
        return jobs

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            running = list(self._active)
        for proc in running:
            _kill_group(proc)

    def info(self) -> EngineInfo:
        notes = ["no container: cells run as processes of this machine, in a scrubbed temporary folder"]
        notes.append("network: none (unshare --net)" if can_unshare_network() else "network: reachable (no unshare)")
        machine_config = [p for p in ("/etc/pip.conf",) if Path(p).exists()]
        if machine_config:
            notes.append(f"machine pip config read by every pip here: {', '.join(machine_config)}")
        return EngineInfo(name=self.name, isolation="process", notes=tuple(notes))

    def check_python(self, python: str) -> str:
        exe = find_interpreter(python)
        if exe is None:
            raise InputError(
                f"--python {python}: no interpreter found (looked in {pyenv_root()}/versions and for "
                f"python{python} on PATH); install it with 'pyenv install {python}' or drop it from the matrix"
            )
        return exact_version(exe)

    def cache_identity(self, python: str) -> dict[str, str] | None:
        # The base is this machine's interpreter and whatever it has installed since: nothing to key
        # a reused result on.
        return None

    def run_cell(self, job: CellJob) -> JobOutcome:
        exe = find_interpreter(job.python)
        info = self.info()
        if exe is None:
            return JobOutcome(False, f"no interpreter for Python {job.python}", info)
        cell_dir = Path(tempfile.mkdtemp(prefix="ih-cell-"))
        try:
            paths = CellPaths(str(cell_dir), str(job.out_dir), str(job.wheelhouse), SYSTEM_PATH)
            spec = job.spec.to_json(paths)
            spec_file = cell_dir / "spec.json"
            spec_file.write_text(json.dumps(spec))
            argv = [str(exe), "-I", "-S", str(DRIVER), str(spec_file)]
            if can_unshare_network():
                argv = ["unshare", "--net", *argv]
            job.out_dir.mkdir(parents=True, exist_ok=True)
            with (job.out_dir / "driver.log").open("wb") as log:
                proc = subprocess.Popen(
                    argv,
                    env={"PATH": SYSTEM_PATH, "HOME": str(cell_dir), "LANG": "C.UTF-8"},
                    cwd=cell_dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                with self._lock:
                    if self._aborted:
                        _kill_group(proc)
                        raise KeyboardInterrupt
                    self._active.add(proc)
                try:
                    code = proc.wait(timeout=job.time_limit)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    return JobOutcome(True, None, info)
                except BaseException:
                    _kill_group(proc)
                    raise
                finally:
                    with self._lock:
                        self._active.discard(proc)
            if self._aborted:
                raise KeyboardInterrupt  # killed by abort(): not a result
            if code != 0:
                return JobOutcome(False, f"the cell driver exited {code} (see driver.log)", info)
            return JobOutcome(False, None, info)
        finally:
            if not self.keep:
                shutil.rmtree(cell_dir, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM first: the driver passes it on to the action's own process group (pip and its build
    subprocesses), which a kill of the driver's group alone would leave running in the cell folder."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
