"""What every part of the cell driver shares: its versions, running processes with a time limit,
files, the hermetic environment, the spec contract and writing result.json.

Standard library only; runs on Python 3.8 (see driver.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

DRIVER_VERSION = 2


# The shape of the spec this driver reads; the harness writes it into every spec as "spec_version".
SPEC_VERSION = 3


# The first line of every .pth the contamination plants: it marks each start of host code.
CANARY_LINE = "import _ih_canary; _ih_canary.mark(%r)"


# Fixed identity and dates make the project's git commit, and so pip's view of it, identical in
# every cell and every run.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "isolation-harness",
    "GIT_AUTHOR_EMAIL": "harness@invalid",
    "GIT_COMMITTER_NAME": "isolation-harness",
    "GIT_COMMITTER_EMAIL": "harness@invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The action running now: each runs in its own process group (so a time limit kills all of pip's
# processes), which the engine's kill of the driver's group does not reach; SIGTERM passes it on.
_RUNNING = []  # type: list[subprocess.Popen[bytes]]


def _on_term(signum, frame):  # type: (int, object) -> None
    for proc in list(_RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(128 + signum)


def _write(path, text):  # type: (str, str) -> None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def _run(argv, env, cwd, log_path, timeout, *, stdin_path=None):
    # type: (list[str], dict[str, str], str, str, float, str | None) -> dict[str, object]
    """Run one command, output to a log file, killed with its whole process group at the limit; its
    input is empty, or the file ``stdin_path`` (what a user types when asked)."""
    start = time.monotonic()
    timed_out = False
    with open(log_path, "ab") as log, open(stdin_path or os.devnull, "rb") as stdin:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=stdin,
            start_new_session=True,
        )
        _RUNNING.append(proc)
        try:
            code = proc.wait(timeout=timeout)  # type: int | None
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            code = None
            log.write(("\n[isolation-harness] killed after %.0f s time limit\n" % timeout).encode())
        finally:
            _RUNNING.remove(proc)
    return {"argv": argv, "exit_code": code, "timed_out": timed_out, "duration": round(time.monotonic() - start, 3)}


def _output(argv, env):  # type: (list[str], dict[str, str]) -> str
    try:
        out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "failed: %s" % exc
    return out.stdout.decode("utf-8", "replace").strip()


def _fill(text, values):  # type: (str, dict[str, str]) -> str
    return text.format(**values)


def _read_reports(folder):  # type: (str) -> list[dict[str, object]]
    reports = []
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                try:
                    with open(os.path.join(folder, name)) as fh:
                        reports.append(json.load(fh))
                except (OSError, ValueError) as exc:
                    reports.append({"kind": "unreadable", "file": name, "error": str(exc)})
    return reports


def _wheel_view(spec, cell):  # type: (dict, str) -> str
    """The wheel directory as this Python's index would show it: without the wheels whose
    Requires-Python excludes it (the harness lists them), as links in the cell."""
    hidden = set(spec.get("wheelhouse_hidden") or [])
    if not hidden:
        return str(spec["wheelhouse"])
    view = os.path.join(cell, "wheels")
    os.makedirs(view, exist_ok=True)
    # A prepared image holds the view made for the cell that prepared it: a file hidden from this cell
    # (an sdist another scenario fetched since) must not stay visible through it.
    for name in os.listdir(view):
        if name in hidden:
            os.remove(os.path.join(view, name))
    for name in os.listdir(spec["wheelhouse"]):
        if name not in hidden and not name.startswith(".") and not os.path.lexists(os.path.join(view, name)):
            os.symlink(os.path.join(spec["wheelhouse"], name), os.path.join(view, name))
    return view


def _base_env(spec, cell):  # type: (dict, str) -> dict[str, str]
    """The environment every process the driver starts shares, in a cell and when preparing one: a
    hermetic pip (every artifact comes from the wheel directory filled on the host), a home of the
    cell's own, and no machine-level pip configuration or caches."""
    home = os.path.join(cell, "home")
    return {
        "PATH": spec["system_path"],
        "HOME": home,
        "LANG": "C.UTF-8",
        # Hermetic: every artifact comes from the wheel directory filled on the host.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": _wheel_view(spec, cell),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # Keep machine-level pip configuration (/etc/xdg/pip) and caches out of the cell.
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CONFIG_DIRS": os.path.join(cell, "xdg"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
    }


def _contract(spec):  # type: (dict) -> str | None
    """The fault when the spec is not one this driver reads (the harness and its driver disagree)."""
    version = spec.get("spec_version")
    if version != SPEC_VERSION:
        return "driver spec version %s, this driver reads version %d: the harness and its driver disagree" % (
            version,
            SPEC_VERSION,
        )
    # Only install steps into the host venv that open the contamination can come from a prepared
    # image: a step before an install (a .pth, an env var) could change what that install does.
    leading, steps = spec.get("leading_installs"), spec.get("steps")
    if (
        isinstance(leading, bool)
        or not isinstance(leading, int)
        or not isinstance(steps, list)
        or not 0 <= leading <= len(steps)
        or any(step.get("kind") != "install" or step.get("into", "host") != "host" for step in steps[:leading])
    ):
        return (
            "driver spec leading_installs %r does not count install steps into the host venv that open the "
            "contamination: the harness and its driver disagree" % (leading,)
        )
    return None


def _fresh_env(spec, env, cell, venv, setup_log):  # type: (dict, dict, str, str, str) -> tuple[str, str, str] | str
    """A fresh venv without pip, then the pip under test unpacked from its wheel (the venv's own pip
    bootstrap would be a second pip, and unpacking is what a wheel install does anyway), then the
    frontend when it is not pip. Returns (python, purelib, pip --version) or a fault message."""
    res = _run([sys.executable, "-I", "-m", "venv", "--without-pip", venv], env, cell, setup_log, 300)
    if res["exit_code"] != 0:
        return "python -m venv failed (see setup.log)"
    vpy = os.path.join(venv, "bin", "python")
    purelib = _output([vpy, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env)
    with zipfile.ZipFile(os.path.join(spec["wheelhouse"], spec["pip_wheel"])) as wheel:
        wheel.extractall(purelib)
    version = _output([vpy, "-m", "pip", "--version"], env)
    if spec.get("frontend_requirements"):
        res = _run([vpy, "-m", "pip", "install"] + list(spec["frontend_requirements"]), env, cell, setup_log, 600)
        if res["exit_code"] != 0:
            return "installing the frontend failed: %s (see setup.log)" % spec.get("frontend")
    return vpy, purelib, version


def _fault(result, out, message):  # type: (dict[str, object], str, str) -> int
    result["fault"] = message
    return _finish(result, out)


def _finish(result, out):  # type: (dict[str, object], str) -> int
    tmp = os.path.join(out, "result.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out, "result.json"))
    return 0


# How long a driver started ahead of its turn waits for it: longer than any cell it can queue behind
# (their limits are at most 2 x 3600 s + setup), short enough that one left by a killed harness ends.
WAIT_LIMIT = 4 * 3600.0


def when(go):  # type: (str) -> bool
    """Wait until ``go`` exists (the spec is complete by then: it is written first); False on timeout."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
