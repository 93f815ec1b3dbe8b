"""The pip under test from anything a maintainer has, and an optional pyproject-hooks overlay.

``--pip`` takes a release (``24.3.1``), a wheel file, a local source checkout (a folder), or a git URL
with a ref (``git+file:///src/pip@my-branch``). Non-release pips are built once on the host (with
pypa/build) into the wheel directory under a PEP 440 local label such as ``25.1.dev0+checkout.1a2b3c4d``,
so they sort, match expectations and appear in cell ids like releases do; the record names the source,
the commit and the wheel's sha256.

``--pyproject-hooks`` overlays a candidate pyproject-hooks (a release, a checkout, or a wheel) onto pip's
vendored copy for each cell; the label gets ``+hooks<version>`` and the record says what was replaced.
See pypa/pip#11812 and pypa/pyproject-hooks for why the vendored copy is what decides the verdict.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from isolation_harness.errors import InputError
from isolation_harness.wheelhouse import Wheelhouse


@dataclass(frozen=True)
class PipCandidate:
    """One value of --pip, resolved: a label for cell ids and a wheel in the wheel directory."""

    label: str
    kind: str  # release | wheel | checkout | git
    origin: str
    commit: str | None = None


def is_release(value: str) -> bool:
    try:
        Version(value)
    except InvalidVersion:
        return False
    return not Path(value).exists()


def resolve_pip(value: str, wheelhouse: Wheelhouse, *, hooks: str | None = None) -> PipCandidate:
    """Register the pip named by ``value`` (with the pyproject-hooks overlay, if any) in the wheelhouse."""
    base, wheel = _resolve_base(value, wheelhouse)
    if hooks is None:
        return base
    return _overlay(base, wheel, hooks, wheelhouse)


def _resolve_base(value: str, wheelhouse: Wheelhouse) -> tuple[PipCandidate, Path]:
    """The pip of ``value`` and its wheel, whichever kind of source it names."""
    if is_release(value):
        wheel = wheelhouse.pip_wheel(value)  # fails with exit 2 when the release does not exist
        return PipCandidate(value, "release", f"pypi:pip=={value}"), wheel
    if value.endswith(".whl"):
        path = Path(value)
        if not path.is_file():
            raise InputError(f"--pip {value}: no such wheel file")
        return _register(wheelhouse, path, kind="wheel", origin=str(path.resolve()), commit=None)
    if value.startswith("git+"):
        return _from_git(value, wheelhouse)
    if Path(value).is_dir():
        return _from_checkout(value, wheelhouse)
    raise InputError(
        f"--pip {value}: not a pip release, a wheel file, a source folder or a git+URL@ref; "
        "for example --pip 24.3.1, --pip ./pip-checkout, --pip git+file:///src/pip@main"
    )


def _from_git(value: str, wheelhouse: Wheelhouse) -> tuple[PipCandidate, Path]:
    """Clone ``git+URL[@ref]``, check out the ref and build pip from it."""
    url, _, ref = value[4:].rpartition("@") if "@" in value[4:] else (value[4:], "", "")
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "pip"
        _git(["clone", "-q", url, str(clone)], value)
        if ref:
            _git(["-C", str(clone), "checkout", "-q", ref], value)
        commit = _git(["-C", str(clone), "rev-parse", "HEAD"], value)
        built = _build_wheel(clone, Path(tmp) / "dist", value)
        return _register(wheelhouse, built, kind="git", origin=value, commit=commit)


def _from_checkout(value: str, wheelhouse: Wheelhouse) -> tuple[PipCandidate, Path]:
    """Build pip from a source folder (naming its commit when it is a git checkout)."""
    source = Path(value).resolve()
    head = _git(["-C", str(source), "rev-parse", "HEAD"], value) if (source / ".git").exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        built = _build_wheel(source, Path(tmp), value)
        return _register(wheelhouse, built, kind="checkout", origin=str(source), commit=head)


def _overlay(base: PipCandidate, pip_wheel: Path, hooks: str, wheelhouse: Wheelhouse) -> PipCandidate:
    with zipfile.ZipFile(pip_wheel) as zf:
        names = zf.namelist()
        if "pip/_vendor/pyproject_hooks/__init__.py" not in names:
            raise InputError(
                f"--pyproject-hooks {hooks}: pip {base.label} vendors pep517, not pyproject_hooks (pip 23.0 "
                "and later do); pick a newer --pip"
            )
        vendored = _vendored_hooks_version(zf)
    hooks_wheel = _hooks_wheel(hooks, wheelhouse)
    hooks_version = hooks_wheel.name.split("-")[1]
    label = f"{base.label}{'.' if '+' in base.label else '+'}hooks{hooks_version}"
    with tempfile.TemporaryDirectory() as tmp:
        merged = Path(tmp) / pip_wheel.name
        _merge(pip_wheel, hooks_wheel, merged)
        wheelhouse.register_pip(
            label,
            merged,
            source={
                "kind": base.kind,
                "origin": base.origin,
                "commit": base.commit,
                "overlay": {
                    "pyproject_hooks": hooks_version,
                    "from": hooks,
                    "replaced": vendored,
                    "wheel": hooks_wheel.name,
                    "sha256": wheelhouse.artifact(hooks_wheel).sha256,
                },
            },
        )
    return PipCandidate(label, base.kind, base.origin, base.commit)


def _vendored_hooks_version(zf: zipfile.ZipFile) -> str:
    text = zf.read("pip/_vendor/vendor.txt").decode()
    match = re.search(r"(?im)^pyproject[-_]hooks==(\S+)", text)
    return match.group(1) if match else "unknown"


def _merge(pip_wheel: Path, hooks_wheel: Path, dest: Path) -> None:
    """pip's wheel with pip/_vendor/pyproject_hooks replaced by the candidate's pyproject_hooks package."""
    with zipfile.ZipFile(pip_wheel) as src, zipfile.ZipFile(hooks_wheel) as hooks, zipfile.ZipFile(dest, "w") as out:
        for item in src.infolist():
            if not item.filename.startswith("pip/_vendor/pyproject_hooks/"):
                out.writestr(item, src.read(item))
        for item in hooks.infolist():
            if item.filename.startswith("pyproject_hooks/") and not item.is_dir():
                out.writestr("pip/_vendor/" + item.filename, hooks.read(item))


def _hooks_wheel(value: str, wheelhouse: Wheelhouse) -> Path:
    if is_release(value):
        files = wheelhouse.download(
            ["--no-deps", f"pyproject-hooks=={value}"],
            key=f"pyproject-hooks=={value}",
            failure=f"--pyproject-hooks {value}: that release could not be downloaded",
        )
        return wheelhouse.root / next(f for f in files if f.endswith(".whl"))
    path = Path(value)
    if value.endswith(".whl") and path.is_file():
        return wheelhouse.add_file(path)
    if path.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            return wheelhouse.add_file(_build_wheel(path.resolve(), Path(tmp), value))
    raise InputError(f"--pyproject-hooks {value}: not a release, a wheel file or a source folder")


def _register(
    wheelhouse: Wheelhouse, wheel: Path, *, kind: str, origin: str, commit: str | None
) -> tuple[PipCandidate, Path]:
    if not wheel.name.startswith("pip-"):
        raise InputError(f"--pip {origin}: {wheel.name} is not a pip wheel")
    version = wheel.name.split("-")[1]
    tag = (commit or hashlib.sha256(wheel.read_bytes()).hexdigest())[:8]
    label = f"{version}{'.' if '+' in version else '+'}{kind}.{tag}"
    Version(label)  # a PEP 440 local version: sorts and matches specifiers like a release
    path = wheelhouse.register_pip(label, wheel, source={"kind": kind, "origin": origin, "commit": commit})
    return PipCandidate(label, kind, origin, commit), path


def _build_wheel(source: Path, out: Path, option: str) -> Path:
    """Build a wheel with pypa/build (isolated, from PyPI), once, on the host."""
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(out.glob("*.whl")) if out.exists() else []
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"--pip {option}: building a wheel failed ({last})")
    return wheels[0]


def _git(args: list[str], option: str) -> str:
    if shutil.which("git") is None:
        raise InputError(f"--pip {option}: git is not installed")
    proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"--pip {option}: git {args[0]} failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})")
    return proc.stdout.strip()
