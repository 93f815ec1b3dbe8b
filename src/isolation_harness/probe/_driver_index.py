"""The cell's package index (a scenario's ``index-server:``): start the real server on loopback before the
control, stop it after the experiment, and the placeholders and environment the runs reach it with.

Standard library only; runs on Python 3.8 (see driver.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

MYPY = False
if MYPY:  # pragma: no cover - for the type comments only
    from .driver import _Cell  # noqa: F401

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_index_server.py")
START_LIMIT = 30.0  # seconds for the server to listen: it only reads a folder and binds a socket

# Placeholders of a cell without an index: empty, never used (the scenario loader refuses them).
NO_INDEX = dict.fromkeys(
    ("index_url", "index_url_auth", "index_netloc", "index_ca", "index_user", "index_password"), ""
)


def start(c):  # type: (_Cell) -> str | None
    """Serve the cell's wheel directory as a simple index on loopback; None, or why it did not start
    (the cell is then an error, never a verdict about the frontend)."""
    served = c.spec.get("index") or {}  # type: dict
    folder = os.path.join(c.cell, "index")
    os.makedirs(folder, exist_ok=True)
    port_file = os.path.join(folder, "port")
    argv = [sys.executable, "-I", "-S", SERVER, "--root", c.env["PIP_FIND_LINKS"], "--port-file", port_file]
    argv += ["--log", os.path.join(c.out, "index.log")]
    ca = ""
    if served.get("tls"):
        for name in ("ca", "cert", "key"):
            with open(os.path.join(folder, name + ".pem"), "w") as fh:
                fh.write(served[name])
        ca = os.path.join(folder, "ca.pem")
        argv += ["--certfile", os.path.join(folder, "cert.pem"), "--keyfile", os.path.join(folder, "key.pem")]
    if served.get("auth"):
        argv += ["--user", served["user"], "--password", served["password"]]
    err_path = os.path.join(folder, "server.err")
    with open(err_path, "wb") as err:
        c.index_proc = subprocess.Popen(
            argv, env=c.env, cwd=folder, stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True
        )
    deadline = time.monotonic() + START_LIMIT
    while not os.path.exists(port_file):
        if c.index_proc.poll() is not None or time.monotonic() > deadline:
            with open(err_path, "rb") as fh:
                why = fh.read().decode("utf-8", "replace").strip().splitlines()
            stop(c)
            return "the package index in the cell did not start: %s" % (
                why[-1] if why else "no port after %.0f s" % START_LIMIT
            )
        time.sleep(0.05)
    with open(port_file) as fh:
        port = fh.read().strip()
    scheme = "https" if served.get("tls") else "http"
    # By name, not address: truststore (pip 24.2+) refuses an address as the TLS server name
    # ("check_hostname requires server_hostname"); the certificate names both, the server listens
    # on 127.0.0.1, where the cell's /etc/hosts sends localhost.
    netloc = "localhost:%s" % port
    user, password = served.get("user", ""), served.get("password", "")
    auth = "%s:%s@" % (user, password) if served.get("auth") else ""
    c.index = {
        "index_url": "%s://%s/simple/" % (scheme, netloc),
        "index_url_auth": "%s://%s%s/simple/" % (scheme, auth, netloc),
        "index_netloc": netloc,
        "index_ca": ca,
        "index_user": user,
        "index_password": password,
    }
    c.result["index"] = {"url": c.index["index_url"], "tls": bool(served.get("tls")), "auth": bool(served.get("auth"))}
    return None


def stop(c):  # type: (_Cell) -> None
    proc = c.index_proc
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


def run_env(c, env, values):  # type: (_Cell, dict[str, str], dict[str, str]) -> None
    """The runs of a cell with an index reach packages through it, as the scenario says (its env, its
    command line), not through the wheel directory the set-up used."""
    served = c.spec.get("index")
    if not served:
        return
    env.pop("PIP_NO_INDEX", None)
    env.pop("PIP_FIND_LINKS", None)
    env.update({k: v.format(**values) for k, v in served.get("env", {}).items()})
