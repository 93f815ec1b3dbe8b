"""Contamination steps: what a scenario does to the host before the experiment, one type per kind.

Each kind has its dataclass and its reader, in one table keyed by the kind as written in the scenario
file (the cell driver likewise has one function per kind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement

from isolation_harness._strict import Node
from isolation_harness.fixtures import fixture_files
from isolation_harness.placeholders import check_placeholders, placeheld_list

MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PTH_RE = re.compile(r"^[A-Za-z0-9_.-]+\.pth$")

INSTALL_PLACES = ("host", "user", "base")


@dataclass(frozen=True)
class Install:
    """Install requirements (from the wheel directory) into the host environment, the user
    site-packages (pip #5224) or the base interpreter's site-packages (pip #6264; docker engine only,
    where the base is thrown away with the container)."""

    requirements: tuple[str, ...]
    into: Literal["host", "user", "base"] = "host"
    kind: Literal["install"] = "install"


@dataclass(frozen=True)
class VenvConfig:
    """Change the host venv's pyvenv.cfg: `include-system-site-packages = true` (pip #6264)."""

    system_site_packages: bool
    kind: Literal["venv-config"] = "venv-config"


@dataclass(frozen=True)
class EditableFinder:
    """An editable install of ``module`` by a MetaPathFinder put first on sys.meta_path from a .pth
    file, pointing at a copy of the project: the set-up of pip #11812."""

    module: str
    kind: Literal["editable-finder"] = "editable-finder"


@dataclass(frozen=True)
class Editable:
    """A real editable install into the host venv (``pip install -e``), made by a current pip with the
    backend's own config settings, of a released source distribution from the wheel directory or of a
    fixture: what users' environments hold, where ``editable-finder`` plants a finder of our own.
    pip #11812 came from setuptools' editable finder; ``meta_path_first`` moves the finder the install
    planted to the front of sys.meta_path, as setuptools PR #3829 proposed (closed unmerged)."""

    sdist: str | None = None  # name==version, its source distribution fetched into the wheel directory
    fixture: str | None = None  # or a folder of scenarios/fixtures
    files: tuple[tuple[str, str], ...] = ()  # the fixture's files
    config_settings: tuple[tuple[str, str], ...] = ()
    # What the install takes from the wheel directory: the backend's build requirements, dependencies.
    requires: tuple[str, ...] = ()
    meta_path_first: bool = False
    # False: as meson-python's documentation asks, ``requires`` go into the host venv first and the
    # editable install builds there (--no-build-isolation): its rebuilding finder keeps the paths of the
    # build tools it was made with, and an isolated build environment's are gone once it is done.
    build_isolation: bool = True
    kind: Literal["editable"] = "editable"

    @property
    def label(self) -> str:
        return self.sdist or f"fixture {self.fixture}"


@dataclass(frozen=True)
class PthFile:
    """A .pth file in the host site-packages; its lines run at every interpreter start."""

    name: str
    lines: tuple[str, ...]
    kind: Literal["pth"] = "pth"


@dataclass(frozen=True)
class EnvVars:
    """Environment variables set for the experiment run."""

    variables: tuple[tuple[str, str], ...]
    kind: Literal["env"] = "env"


@dataclass(frozen=True)
class PipConfig:
    """A user-level pip configuration file (``$XDG_CONFIG_HOME/pip/pip.conf``)."""

    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    kind: Literal["pip-config"] = "pip-config"


@dataclass(frozen=True)
class CommandLine:
    """Options the user gives on the command line (appended to the experiment's command), in place
    of the environment variables named in ``instead_of`` that the control used: ``--cert`` instead
    of ``PIP_CERT`` (pip #5502), where only the environment always reaches a pip subprocess."""

    args: tuple[str, ...] = ()
    instead_of: tuple[str, ...] = ()
    # What the user types when the command asks (a password prompt), placeholders allowed; None: no input.
    stdin: str | None = None
    kind: Literal["command-line"] = "command-line"


Step = Install | Editable | EditableFinder | PthFile | EnvVars | PipConfig | VenvConfig | CommandLine


def _install(body: Node) -> Install:
    if isinstance(body.value, list):
        return Install(requirements=body.texts())
    f = body.mapping(required=("requirements",), optional=("into",))
    into = f["into"].choice(INSTALL_PLACES) if "into" in f else "host"
    return Install(requirements=f["requirements"].texts(), into=into)  # type: ignore[arg-type]


def _editable_finder(body: Node) -> EditableFinder:
    module = body.mapping(required=("module",))["module"].text()
    if not MODULE_RE.match(module):
        body.child("module", module).fail(f"'{module}' is not a module name")
    return EditableFinder(module=module)


def pinned_release(node: Node) -> str:
    """NAME==VERSION: one release, so a result made with it can be replayed."""
    text = node.text()
    try:
        specs = list(Requirement(text).specifier)
    except InvalidRequirement:
        specs = []
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        node.fail(f"'{text}' is not one release", "pin it: NAME==VERSION, so the result can be replayed")
    return text


def _editable(body: Node) -> Editable:
    f = body.mapping(optional=("sdist", "fixture", "config-settings", "requires", "meta-path", "build-isolation"))
    if ("sdist" in f) == ("fixture" in f):
        body.fail("needs one source", "give sdist: NAME==VERSION (from PyPI) or fixture: FOLDER (scenarios/fixtures)")
    sdist = pinned_release(f["sdist"]) if "sdist" in f else None
    settings = f["config-settings"].text_mapping() if "config-settings" in f else {}
    requires = f["requires"].texts() if "requires" in f else ()
    for i, req in enumerate(requires):
        try:
            Requirement(req)
        except InvalidRequirement:
            f["requires"].child(i, req).fail(f"'{req}' is not a requirement")
    return Editable(
        sdist=sdist,
        fixture=f["fixture"].text() if "fixture" in f else None,
        files=tuple(sorted(fixture_files(f["fixture"]).items())) if "fixture" in f else (),
        config_settings=tuple(sorted(settings.items())),
        requires=requires,
        meta_path_first="meta-path" in f and f["meta-path"].choice(("first", "as-installed")) == "first",
        build_isolation=_flag(f["build-isolation"]) if "build-isolation" in f else True,
    )


def _flag(node: Node) -> bool:
    if not isinstance(node.value, bool):
        node.fail("expected true or false")
    return node.value


def _pth(body: Node) -> PthFile:
    f = body.mapping(required=("name", "lines"))
    pth_name = f["name"].text()
    if not PTH_RE.match(pth_name):
        f["name"].fail(f"'{pth_name}' must be a plain file name ending in .pth")
    return PthFile(name=pth_name, lines=placeheld_list(f["lines"]))


def _env(body: Node) -> EnvVars:
    variables = body.text_mapping()
    for key, value in variables.items():
        if not ENV_RE.match(key):
            body.child(key, value).fail(f"'{key}' is not an environment variable name")
        check_placeholders(body.child(key, value), value)
    return EnvVars(variables=tuple(sorted(variables.items())))


def _pip_config(body: Node) -> PipConfig:
    if not isinstance(body.value, Mapping) or not body.value:
        body.fail("expected a mapping of pip config sections, such as {global: {target: '{target}'}}")
    sections: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for section, values in body.value.items():
        child = body.child(str(section), values)
        settings = child.text_mapping()
        for value in settings.values():
            check_placeholders(child, value)
        sections.append((str(section), tuple(sorted(settings.items()))))
    return PipConfig(sections=tuple(sections))


def _venv_config(body: Node) -> VenvConfig:
    f = body.mapping(required=("system-site-packages",))
    return VenvConfig(system_site_packages=_flag(f["system-site-packages"]))


def _command_line(body: Node) -> CommandLine:
    f = body.mapping(optional=("args", "instead-of-env", "stdin"))
    if not f.values:
        body.fail("says nothing", "give args (options to add), stdin (what the user types) or both")
    instead = f["instead-of-env"].texts() if "instead-of-env" in f else ()
    for i, name in enumerate(instead):
        if not ENV_RE.match(name):
            f["instead-of-env"].child(i, name).fail(f"'{name}' is not an environment variable name")
    stdin = f.get("stdin")
    if stdin is not None:
        check_placeholders(stdin, stdin.text())
    return CommandLine(
        args=placeheld_list(f["args"]) if "args" in f else (),
        instead_of=instead,
        stdin=stdin.text() if stdin is not None else None,
    )


# In the order error messages list them.
READERS: dict[str, Callable[[Node], Step]] = {
    "install": _install,
    "editable": _editable,
    "editable-finder": _editable_finder,
    "pth": _pth,
    "env": _env,
    "pip-config": _pip_config,
    "venv-config": _venv_config,
    "command-line": _command_line,
}
STEP_KINDS = tuple(READERS)


def read_step(node: Node) -> Step:
    """One contamination step: a mapping with exactly one key, the step's kind."""
    if not isinstance(node.value, Mapping) or len(node.value) != 1:
        node.fail("each contamination step is a mapping with exactly one key", f"one of: {', '.join(STEP_KINDS)}")
    (kind,) = node.value
    body = node.mapping(optional=STEP_KINDS)[kind]
    return READERS[kind](body)
