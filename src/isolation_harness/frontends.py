"""The frontends a scenario can be replayed with, their releases and pip's modes: matrix axes, rules as data.

A scenario's action is written for pip (``pip install ...``); the other frontends derive theirs from it,
or the scenario gives its own under ``action.<frontend>``. Each frontend says which pip releases it
applies to, and why not elsewhere, so a hole in a table is always explained. Everything about a frontend
is data in its entry of ``FRONTENDS`` (its command too, as a template): no code asks for a frontend by
name.

- ``pip``: pip, in each of its isolation modes (``MODES``): by default a ``sitecustomize`` on the same
  interpreter (pip #11812, #7778); ``--use-feature=inprocess-build-deps`` (pip 26.0+) installs the
  build dependencies in pip's own process; ``--use-feature=venv-isolation`` (pip 26.2+, pip PR #14070)
  builds in a real venv. A mode applies where the pip release's own ``--use-feature`` list has it.
- ``build``: ``python -m build`` (pypa/build), a real venv per build with the build requirements; one
  cell per Python, in the newest pip's column (see the rule below).
- ``uv``: ``uv pip install`` (or the scenario's own uv command), offline against the wheel directory;
  uv does not use pip, so it runs once per Python, in the newest pip's column.

A frontend other than pip can also be pinned to releases (``build==1.4.2``): its releases are an axis
of their own, since its isolation changed between them (pypa/build #405, #1037). pip's releases are
the pip axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from isolation_harness.errors import InputError

PIP_ARGS = "{pip_args}"  # in an args template: the scenario's pip arguments, spliced in
# What `isolation-harness diagnose` asks of the frontends it offers: pip builds a wheel of the project
# (pypa/build takes its own template instead).
DIAGNOSE_PIP_ARGS = ("wheel", "--no-deps", "--wheel-dir", "{target}", "{project_url}")


@dataclass(frozen=True)
class Frontend:
    name: str
    module: str  # started as `python -m <module>` with the host environment's interpreter
    requirements: tuple[str, ...]  # installed into the host environment before the control
    roots: tuple[str, ...]  # top-level folders of the host site-packages that are the frontend itself
    pips: SpecifierSet  # the pip releases where this frontend or mode exists
    pips_reason: str
    newest_pip_only: bool = False  # the pip axis does not matter: run one cell per Python
    newest_pip_reason: str = ""
    env: tuple[tuple[str, str], ...] = ()  # extra environment for its runs (placeholders allowed)
    # Its command: PIP_ARGS stands for the scenario's pip arguments; other items are kept as they are
    # (the cell fills in their placeholders).
    args_template: tuple[str, ...] = (PIP_ARGS,)
    # Inserted into the pip arguments after the subcommand, where every pip command accepts them.
    flags_after_subcommand: tuple[str, ...] = ()
    diagnose: bool = False  # whether `isolation-harness diagnose --frontend` offers it
    diagnose_args: tuple[str, ...] = ()  # the pip arguments diagnose gives it in the clean cell
    # diagnose's build in the user's own environment: its arguments (placeholders: {target},
    # {project_dir}, {project_url}, {wheelhouse}) and whether the probe wheel reaches the build
    # requirements through PIP_FIND_LINKS (a frontend that installs them with a pip of its own).
    diagnose_user_args: tuple[str, ...] = ()
    # The variable through which the probe wheel reaches the build requirements of a frontend that
    # installs them itself (pypa/build's pip, uv), and how that variable separates its values.
    diagnose_find_links_var: str = ""
    diagnose_find_links_sep: str = " "
    # diagnose's clean cell, where the frontend's own command is not pip's arguments in its template.
    diagnose_clean_args: tuple[str, ...] | None = None
    offers_vcs: bool = True  # takes a VCS URL (git+file://...), as pip does; else a project folder
    runs_pip_code: bool = True  # the host's pip (or its code) takes part: `validate` judges a pip patch here
    # How the probe recognises the frontend's hook processes: "pyproject-hooks" (the backend named in
    # pyproject-hooks' environment variables) or "declared-backend" (hooks run as `python -c` without
    # them: the backend the project declares, passed by the cell driver).
    hook_detection: Literal["pyproject-hooks", "declared-backend"] = "pyproject-hooks"
    has_modes: bool = False  # pip's isolation modes (MODES) apply: its command takes --use-feature
    releases_axis: bool = True  # its own releases can be an axis (pip's are the pip axis)

    def requirements_at(self, release: str | None) -> tuple[str, ...]:
        """What the host environment gets for this frontend: its first requirement pinned to ``release``."""
        if release is None or not self.requirements:
            return self.requirements
        return (f"{self.requirements[0]}=={release}", *self.requirements[1:])

    def args(self, pip_args: Sequence[str], own: Sequence[str] | None, mode: str = "default") -> tuple[str, ...]:
        """The frontend's arguments for a scenario whose pip action is ``pip_args``, in ``mode``."""
        if own is not None:
            return tuple(own)
        pip = tuple(pip_args)
        flags = (*self.flags_after_subcommand, *MODES[mode].flags)
        if pip and flags:
            pip = (pip[0], *flags, *pip[1:])
        return tuple(arg for item in self.args_template for arg in (pip if item == PIP_ARGS else (item,)))

    def not_applicable(self, pip: Version, newest: Version | None) -> str | None:
        """Why this frontend has no cell at ``pip`` (``newest``: the newest applicable pip of the row)."""
        if not self.pips.contains(pip, prereleases=True):
            return self.pips_reason.format(pip=pip)
        if self.newest_pip_only and newest is not None and pip != newest:
            return f"{self.newest_pip_reason}: one cell per Python, in the newest pip's column ({newest})"
        return None


FRONTENDS: dict[str, Frontend] = {
    "pip": Frontend(
        name="pip",
        module="pip",
        requirements=(),
        roots=("pip",),
        pips=SpecifierSet(),
        pips_reason="",
        has_modes=True,
        releases_axis=False,
        diagnose=True,
        diagnose_args=DIAGNOSE_PIP_ARGS,
        diagnose_user_args=(
            *("wheel", "--no-deps", "--no-cache-dir", "--wheel-dir", "{target}"),
            *("--find-links", "{wheelhouse}", "{project_url}"),
        ),
    ),
    "build": Frontend(
        name="build",
        module="build",
        requirements=("build",),
        # pypa/build and the pyproject-hooks it runs the hooks with, and the pip it installs with.
        roots=("build", "pyproject_hooks", "pip"),
        pips=SpecifierSet(),
        pips_reason="",
        # Measured over every pip for dev-backend, distutils-hack and 40 cells of path-scripts (146
        # cells): build's verdict never changed along the pip axis, only between Pythons. Its isolation
        # is its own venv; the host's pip (from 22.3; older ones are replaced by ensurepip's) only
        # installs the build requirements into it.
        newest_pip_only=True,
        newest_pip_reason="pypa/build isolates in its own venv, the host's pip only installs into it",
        args_template=("--wheel", "--outdir", "{target}", "{project_dir}"),
        diagnose=True,
        diagnose_args=DIAGNOSE_PIP_ARGS,
        # pypa/build installs build requirements with pip in its own venv: the probe wheel reaches it
        # through PIP_FIND_LINKS (added to, not replacing, a value the user set).
        diagnose_user_args=("--wheel", "--outdir", "{target}", "{project_dir}"),
        diagnose_find_links_var="PIP_FIND_LINKS",
        offers_vcs=False,
    ),
    "uv": Frontend(
        name="uv",
        module="uv",
        requirements=("uv",),
        roots=("uv",),
        pips=SpecifierSet(),
        pips_reason="",
        newest_pip_only=True,
        newest_pip_reason="uv does not use pip",
        offers_vcs=False,
        runs_pip_code=False,
        # Offline against the wheel directory, never downloading an interpreter, and without a shared
        # cache: uv would reuse the control's built wheel in the experiment and build nothing (its
        # temporary cache is in the cell's TMPDIR, outside the home folder that counts as host).
        env=(
            ("UV_OFFLINE", "1"),
            ("UV_NO_INDEX", "1"),
            ("UV_FIND_LINKS", "{wheelhouse}"),
            ("UV_NO_CACHE", "1"),
            ("UV_PYTHON_DOWNLOADS", "never"),
            ("UV_NO_PROGRESS", "1"),
            ("VIRTUAL_ENV", "{cell}/venv"),
        ),
        args_template=("pip", PIP_ARGS),
        # uv runs each hook with `python -c`, without pyproject-hooks' environment variables.
        hook_detection="declared-backend",
        # diagnose: `uv build --wheel` (uv's isolated build of one project, as `pip wheel` is pip's),
        # for the environment's interpreter; the probe wheel joins UV_FIND_LINKS (comma-separated).
        diagnose=True,
        diagnose_user_args=(
            *("build", "--wheel", "--no-cache", "--python", "{python}"),
            *("--out-dir", "{target}", "{project_dir}"),
        ),
        diagnose_find_links_var="UV_FIND_LINKS",
        diagnose_find_links_sep=",",
        diagnose_clean_args=(
            "build",
            "--wheel",
            "--python",
            "{cell}/venv/bin/python",
            "--out-dir",
            "{target}",
            "{project_dir}",
        ),
    ),
}
NAMES = tuple(FRONTENDS)
# Frontends that were once names of their own and are now a frontend in a mode: old run folders and
# their records still read (record.py), and a matrix or scenario that names one gets the fix.
RENAMED = {"pip-venv": ("pip", "venv-isolation")}
# What the others are compared with in the reports: pip as users run it, its default isolation.
DEFAULT = "pip"


def get(name: str) -> Frontend:
    return FRONTENDS[name]


def names(*, diagnose: bool = False) -> tuple[str, ...]:
    """The frontends in table order; with ``diagnose``, only those `isolation-harness diagnose` offers."""
    return tuple(name for name, frontend in FRONTENDS.items() if frontend.diagnose or not diagnose)


@dataclass(frozen=True)
class Mode:
    """One of pip's isolation modes: the ``--use-feature`` values that select it."""

    name: str
    features: tuple[str, ...]

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f"--use-feature={feature}" for feature in self.features)

    def not_applicable(self, pip: Version, available: frozenset[str]) -> str | None:
        """Why pip ``pip``, whose ``--use-feature`` accepts ``available``, has no such mode."""
        missing = [feature for feature in self.features if feature not in available]
        if not missing:
            return None
        first = FIRST_RELEASED.get(missing[0], "")
        known = ", ".join(sorted(available)) or "none"
        return f"pip {pip} has no --use-feature={missing[0]}{first} (its features: {known})"


DEFAULT_MODE = "default"
MODES: dict[str, Mode] = {
    mode.name: mode
    for mode in (
        Mode(DEFAULT_MODE, ()),
        # pip 26.0: the build dependencies are installed by pip's own process, not a pip subprocess.
        Mode("inprocess-build-deps", ("inprocess-build-deps",)),
        # pip 26.2: a real venv per build (pip PR #14070); its release notes say it will be the default.
        Mode("venv-isolation", ("venv-isolation",)),
        Mode("inprocess-build-deps+venv-isolation", ("inprocess-build-deps", "venv-isolation")),
    )
}
MODE_NAMES = tuple(MODES)
# Said in a reason when a pip lacks a feature (the list itself is read from each pip's wheel).
FIRST_RELEASED = {
    "inprocess-build-deps": ", first released in pip 26.0",
    "venv-isolation": ", first released in pip 26.2 (pypa/pip#14070)",
}


def mode(name: str, *, where: str = "--mode") -> Mode:
    if name not in MODES:
        raise InputError(f"{where} {name}: not a pip mode; known: {', '.join(MODE_NAMES)}")
    return MODES[name]


@dataclass(frozen=True)
class Pinned:
    """A frontend named on the command line or in a file, maybe pinned: ``build`` or ``build==1.4.2``."""

    name: str
    release: str | None = None

    @property
    def label(self) -> str:
        return self.name if self.release is None else f"{self.name}=={self.release}"


def parse_pinned(value: str, *, where: str = "--frontend") -> Pinned:
    """``NAME`` or ``NAME==RELEASE``, checked against the table; a renamed frontend names its fix."""
    name, sep, release = value.strip().partition("==")
    name = name.strip()
    if name in RENAMED:
        new, new_mode = RENAMED[name]
        raise InputError(
            f"{where} {value}: '{name}' is now frontend {new} in mode {new_mode}; "
            f"write --frontend {new} --mode {new_mode} (in a file: frontend: {new}, mode: {new_mode})"
        )
    if name not in FRONTENDS:
        raise InputError(f"{where} {value}: not a frontend; known: {', '.join(NAMES)}")
    if not sep:
        return Pinned(name)
    if not FRONTENDS[name].releases_axis:
        raise InputError(f"{where} {value}: {name}'s releases are the pip axis; write --pip {release.strip()}")
    try:
        Version(release.strip())
    except InvalidVersion:
        raise InputError(f"{where} {value}: '{release.strip()}' is not a release number like 1.4.2") from None
    return Pinned(name, release.strip())


def label(frontend: str, release: str | None = None, mode_name: str = DEFAULT_MODE) -> str:
    """How a cell's frontend is written in its id and in tables: ``pip``, ``pip+venv-isolation``,
    ``build==1.4.2``."""
    text = Pinned(frontend, release).label
    return text if mode_name == DEFAULT_MODE else f"{text}+{mode_name}"


def distribution(frontend: str) -> str | None:
    """The distribution whose version is the frontend's release (None when it has none to install)."""
    reqs = FRONTENDS[frontend].requirements
    return canonicalize_name(reqs[0]) if reqs else None


def parse_label(text: str) -> tuple[str, str | None, str]:
    """(frontend, release, mode) of a label as :func:`label` writes it (and old ``pip-venv``)."""
    if text in RENAMED:
        return RENAMED[text][0], None, RENAMED[text][1]
    head, _, mode_name = text.partition("+")
    name, _, release = head.partition("==")
    return name, release or None, mode_name or DEFAULT_MODE
