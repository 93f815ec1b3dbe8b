"""The probe wheel: the probe module and the .pth that starts it, packed with deterministic bytes."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from isolation_harness import __version__
from isolation_harness.probe import PROBE_MODULE

PROBE_NAME = "isolation-harness-probe"
PROBE_PTH = "isolation_harness_probe.pth"
# A fixed timestamp keeps the probe wheel's bytes, and so its sha256, the same on every machine.
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)


def is_probe(requirement: str) -> bool:
    """Whether a requirement names the probe (built by the harness, never on an index)."""
    try:
        return canonicalize_name(Requirement(requirement).name) == PROBE_NAME
    except InvalidRequirement:
        return False


def probe_requirement() -> str:
    return f"{PROBE_NAME}=={__version__}"


def probe_wheel_name() -> str:
    return f"isolation_harness_probe-{__version__}-py3-none-any.whl"


def probe_wheel_bytes() -> bytes:
    """The probe wheel, the same bytes for the same harness version on every machine."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _probe_files().items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def _probe_files() -> dict[str, bytes]:
    """The files of the probe wheel, in order, ending with its RECORD."""
    version = __version__
    dist = f"isolation_harness_probe-{version}.dist-info"
    files = {
        "_ih_probe.py": PROBE_MODULE.read_bytes(),
        PROBE_PTH: b"import _ih_probe; _ih_probe.install()\n",
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PROBE_NAME}\nVersion: {version}\n"
            "Summary: isolation-harness probe (reports from inside a build environment)\n"
        ).encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: isolation-harness\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},sha256={_urlsafe_digest(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    return files


def _urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
