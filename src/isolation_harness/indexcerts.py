"""TLS files for the package index a cell serves on loopback (``probe/_index_server.py``).

Each call makes a new private certificate authority, so no run trusts another run's index, and no
system store is touched: a scenario gives ``ca.pem`` to pip (``--cert``, ``PIP_CERT``) or leaves it out
to replay a verification failure. The server's certificate names both ``127.0.0.1`` (as an IP address
entry, which is what Python's ssl matches for an address) and ``localhost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

# The names the index answers under inside a cell; it listens on loopback only.
SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """The three files :func:`make_tls_files` writes."""

    ca: Path  # the private CA's certificate: what a client must trust
    cert: Path  # the server's certificate chain, leaf first (the server's --certfile)
    key: Path  # the server's private key, unencrypted PEM (the server's --keyfile)


def make_tls_files(folder: Path) -> TlsFiles:
    """Write ``ca.pem``, ``server.pem`` and ``server.key`` for a new private CA into ``folder``.

    The key is left readable with the folder's usual permissions: it guards nothing but one run's
    throwaway index, and the cell's user (who may not be the host's) must be able to read it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="isolation-harness")
    leaf = ca.issue_cert(*SERVER_NAMES, organization_name="isolation-harness")
    files = TlsFiles(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key")
    files.ca.write_bytes(ca.cert_pem.bytes())
    files.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    files.key.write_bytes(leaf.private_key_pem.bytes())
    return files
