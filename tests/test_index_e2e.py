"""The package index a cell serves, for real: real pips in docker cells (no network) against the real
server on loopback, over TLS with a CA made for the cell and with basic auth. The verdicts differ
between pip releases, so these fail if the index, its TLS or its auth did not work: pip #5502's fix
(--cert reaches the build-dependency install from 25.0) and pip #14227's one-release regression
(keyring credentials lost in 26.2, back in 26.2.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_harness.runfolder import RunFolder

from .conftest import run_cells

pytestmark = pytest.mark.engine
PY = "3.11"


def _run(tmp_path: Path, scenario: str, *pips: str) -> tuple[dict[str, str], Path]:
    folder = run_cells(tmp_path, scenario, PY, *pips)
    return {r.pip.version: r.verdict for r in RunFolder(folder).records()}, folder


def _index_log(folder: Path, pip: str) -> list[str]:
    (cell,) = (folder / "cells").glob(f"*__pip{pip}__pip")
    return (cell / "index.log").read_text().splitlines()


def test_cert_on_the_command_line_reaches_the_build_dependency_install_from_pip_25(tmp_path: Path) -> None:
    verdicts, folder = _run(tmp_path, "cert-build-deps", "24.3.1", "25.0")
    assert verdicts == {"24.3.1": "broke", "25.0": "held"}
    # Both controls fetched the build requirements over TLS; at 24.3.1 the experiment's subprocess
    # never completed a request (its TLS handshake failed), at 25.0 it fetched them again.
    old, new = _index_log(folder, "24.3.1"), _index_log(folder, "25.0")
    assert sum("/files/setuptools-" in line for line in old) == 1
    assert sum("/files/setuptools-" in line for line in new) == 2
    assert all(line.endswith(" 200 -") for line in old + new)


def test_keyring_credentials_were_lost_in_pip_26_2_only(tmp_path: Path) -> None:
    verdicts, folder = _run(tmp_path, "keyring-build-deps", "26.1.2", "26.2", "26.2.1")
    assert verdicts == {"26.1.2": "held", "26.2": "broke", "26.2.1": "held"}
    # 26.2's subprocess asked without credentials (401, no user) and never had keyring's to offer.
    log = _index_log(folder, "26.2")
    assert any(line.endswith(" 401 -") for line in log)
    assert sum("/files/setuptools-" in line for line in log) == 1  # the control's only
    held = _index_log(folder, "26.2.1")
    assert sum(line.endswith(" 200 ih-user") and "/files/setuptools-" in line for line in held) == 2


def test_the_system_store_reaches_the_build_dependency_install_on_linux(tmp_path: Path) -> None:
    """pip #13186 (25.0 passed --cert <certifi> to the subprocess) does not show on Linux: truststore
    also loads OpenSSL's store (here SSL_CERT_FILE) there. Before 24.2 pip trusts certifi only."""
    verdicts, folder = _run(tmp_path, "cert-system-store", "24.0", "25.0")
    assert verdicts == {"24.0": "broke", "25.0": "held"}
    # 24.0's experiment completed no request (its handshakes failed); 25.0's subprocess fetched setuptools.
    assert sum("/files/setuptools-" in line for line in _index_log(folder, "24.0")) == 1
    assert sum("/files/setuptools-" in line for line in _index_log(folder, "25.0")) == 2
