"""The package index a scenario may need (its ``index-server:``): a real server the cell starts on
loopback, with real TLS (a private CA made for each cell) and real HTTP basic auth when asked.

Bugs about credentials, certificates or what pip passes to its build-dependency install need pip to
talk to an index; the cell has no network, so the index serves the cell's own wheel directory
(``probe/_index_server.py``). The scenario says how the runs reach it: ``env`` is set for the control
and the experiment alike (the way every frontend passes on to its subprocesses), and a contamination
step changes that for the experiment (``command-line``: ``--cert`` instead of ``PIP_CERT``; ``env``:
a URL without credentials, for keyring to fill in).
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness._strict import Node
from isolation_harness.indexcerts import make_tls_files
from isolation_harness.placeholders import INDEX_PLACEHOLDERS, check_placeholders
from isolation_harness.steps import ENV_RE


@dataclass(frozen=True)
class PackageIndex:
    tls: bool = False
    auth: bool = False
    env: tuple[tuple[str, str], ...] = ()  # for both runs (placeholders allowed)


def read_index(node: Node) -> PackageIndex:
    fields = node.mapping(optional=("tls", "auth", "env"))
    flags = {}
    for key in ("tls", "auth"):
        child = fields.get(key)
        if child is not None and not isinstance(child.value, bool):
            child.fail("expected true or false")
        flags[key] = bool(child.value) if child is not None else False
    env: dict[str, str] = {}
    env_node = fields.get("env")
    if env_node is not None:
        env = env_node.text_mapping()
        for key, value in env.items():
            if not ENV_RE.match(key):
                env_node.child(key, value).fail(f"'{key}' is not an environment variable name")
            check_placeholders(env_node.child(key, value), value)
    return PackageIndex(tls=flags["tls"], auth=flags["auth"], env=tuple(sorted(env.items())))


def uses_index(text: str) -> str | None:
    """The first index placeholder a scenario file's text uses, if any."""
    return next((name for name in sorted(INDEX_PLACEHOLDERS) if "{" + name + "}" in text), None)


def cell_index(index: PackageIndex) -> dict[str, Any]:
    """What the cell driver needs to serve this index: its TLS files (a CA of the cell's own) and
    credentials made now, and the environment of both runs."""
    data: dict[str, Any] = {"tls": index.tls, "auth": index.auth, "env": dict(index.env)}
    if index.tls:
        with tempfile.TemporaryDirectory(prefix="ih-tls-") as folder:
            files = make_tls_files(Path(folder))
            data.update(ca=files.ca.read_text(), cert=files.cert.read_text(), key=files.key.read_text())
    if index.auth:
        data.update(user="ih-user", password=secrets.token_hex(12))
    return data
