"""Scenario files: one build-isolation bug each, loaded strictly into frozen typed objects."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from isolation_harness._strict import Node, load_yaml
from isolation_harness.errors import ConfigError
from isolation_harness.frontends import NAMES as FRONTENDS
from isolation_harness.verdict import Verdict

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Placeholders the cell fills in; anything else in braces is a mistake in the scenario.
# {path}: the PATH the frontend would get, for an `env` step that puts a folder before it.
PLACEHOLDERS = frozenset({"target", "project_url", "project_dir", "cell", "run", "wheelhouse", "path"})
OFFERS = ("vcs", "path")
# The verdicts a scenario may expect: `error` is always the harness's fault, `flaky` never a finding.
EXPECTABLE = tuple(v.value for v in Verdict if v not in (Verdict.ERROR, Verdict.FLAKY))


@dataclass(frozen=True)
class Project:
    """The project under test, written into the cell and offered to the frontend."""

    name: str
    offer: Literal["vcs", "path"]
    files: tuple[tuple[str, str], ...]
    fixture: str | None = None  # the folder in scenarios/fixtures the files came from, if any
    # Files written into the cell outside the project ({cell}/<path>), such as a backend in development.
    outside: tuple[tuple[str, str], ...] = ()
    # Symbolic links made in the project (path -> target, placeholders allowed): the seed-000 way of
    # pointing backend-path at a backend developed elsewhere.
    links: tuple[tuple[str, str], ...] = ()
    # Folders of the cell ({cell}/<path>) built into wheels in {cell}/dev-wheels before the control.
    dev_wheels: tuple[str, ...] = ()
    # Requirements also fetched as source distributions into the wheel directory (for --no-binary).
    sdists: tuple[str, ...] = ()
    # More distributions the package index would offer (a cell sees only the wheel directory): what
    # a contaminated build may ask for beyond the declared requirements, such as an old setuptools
    # asking for `wheel`.
    index: tuple[str, ...] = ()

    @property
    def file_map(self) -> dict[str, str]:
        return dict(self.files)

    @property
    def digest(self) -> str:
        """sha256 of the project's files, whether inline or from a fixture."""
        parts = [self.files, self.outside, self.links, self.dev_wheels, self.sdists, self.index]
        return hashlib.sha256(json.dumps(parts if any(parts[1:]) else self.files).encode()).hexdigest()


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


Step = Install | EditableFinder | PthFile | EnvVars | PipConfig | VenvConfig
STEP_KINDS = ("install", "editable-finder", "pth", "env", "pip-config", "venv-config")


@dataclass(frozen=True)
class Action:
    """The pip command of the scenario, and the commands of other frontends where they cannot be
    derived from it (see frontends.py)."""

    frontend: Literal["pip"]
    args: tuple[str, ...]
    own: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def for_frontend(self, name: str) -> tuple[str, ...] | None:
        return dict(self.own).get(name)


@dataclass(frozen=True)
class Expectation:
    verdict: Verdict
    pip: SpecifierSet = field(default_factory=SpecifierSet)
    python: SpecifierSet = field(default_factory=SpecifierSet)
    frontends: tuple[str, ...] = ()  # empty: every frontend

    def matches(self, *, pip: Version, python: Version, frontend: str = "pip") -> bool:
        return (
            self.pip.contains(pip, prereleases=True)
            and self.python.contains(python, prereleases=True)
            and (not self.frontends or frontend in self.frontends)
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    references: tuple[str, ...]
    project: Project
    contamination: tuple[Step, ...]
    action: Action
    expect: tuple[Expectation, ...]
    timeout: int
    source: Path
    # Frontends the scenario cannot be replayed with, and why (their cells are not-applicable).
    skip_frontends: tuple[tuple[str, str], ...] = ()

    def skipped(self, frontend: str) -> str | None:
        return dict(self.skip_frontends).get(frontend)

    def expected(self, *, pip: Version, python: Version, frontend: str = "pip") -> Verdict | None:
        """The first expectation that covers the cell, or None when none does."""
        for rule in self.expect:
            if rule.matches(pip=pip, python=python, frontend=frontend):
                return rule.verdict
        return None

    @property
    def host_requirement_groups(self) -> list[list[str]]:
        """The requirements of each step that installs into the host, in order."""
        return [list(step.requirements) for step in self.contamination if isinstance(step, Install)]

    @property
    def needs_disposable_base(self) -> bool:
        """Whether a step writes into the base interpreter or lets the host venv see its site-packages:
        only a container's base is clean (this machine's interpreters carry foreign .pth files) and
        thrown away after the cell."""
        return any(
            (isinstance(step, Install) and step.into == "base")
            or (isinstance(step, VenvConfig) and step.system_site_packages)
            for step in self.contamination
        )


def load_scenario(path: Path) -> Scenario:
    root = Node(path, "", load_yaml(path))
    fields = root.mapping(
        required=("name", "summary", "references", "project", "action", "expect"),
        optional=("contamination", "timeout", "skip-frontends"),
    )
    name = fields["name"].text()
    if not NAME_RE.match(name):
        fields["name"].fail(f"'{name}' must be lower-case letters, digits and dashes")
    if name != path.stem:
        fields["name"].fail(f"'{name}' differs from the file name", f"rename the file to {name}.yaml or fix the name")
    summary = fields["summary"].text()
    if "\n" in summary.strip():
        fields["summary"].fail("must be one line (it is what `nox -l` shows)")
    references = fields["references"].texts()
    for i, ref in enumerate(references):
        if not ref.startswith("https://"):
            fields["references"].child(i, ref).fail(f"'{ref}' is not an https:// URL of the upstream report")
    steps_node = fields.get("contamination")
    timeout_node = fields.get("timeout")
    return Scenario(
        name=name,
        summary=summary.strip(),
        references=references,
        project=_project(fields["project"]),
        contamination=tuple(_step(n) for n in steps_node.items()) if steps_node else (),
        action=_action(fields["action"]),
        expect=tuple(_expectation(n) for n in fields["expect"].items()),
        timeout=timeout_node.whole(minimum=5, maximum=3600) if timeout_node else 300,
        source=path,
        skip_frontends=_skip_frontends(fields.get("skip-frontends")),
    )


def _skip_frontends(node: Node | None) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    reasons = node.text_mapping()
    for name, reason in reasons.items():
        node.child(name, name).choice(tuple(f for f in FRONTENDS if f != "pip"))
        if not reason.strip():
            node.child(name, reason).fail("say why the scenario cannot run with this frontend")
    return tuple(sorted(reasons.items()))


def load_scenarios(folder: Path) -> dict[str, Scenario]:
    return {s.name: s for s in (load_scenario(p) for p in sorted(folder.glob("*.yaml")))}


def find_scenario(folder: Path, name: str) -> Scenario:
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"--scenario {name}: no file {path}; known scenarios: {', '.join(known) or 'none'}")
    return load_scenario(path)


FIXTURES = "fixtures"  # scenarios/fixtures/<folder>: projects too large to write inline
MAX_FIXTURE_BYTES = 2_000_000


def _project(node: Node) -> Project:
    fields = node.mapping(
        required=("name",),
        optional=("offer", "files", "fixture", "outside", "links", "dev-wheels", "sdists", "index"),
    )
    files: dict[str, str] = {}
    fixture = fields.get("fixture")
    if fixture is not None:
        files.update(_fixture_files(fixture))
    if "files" in fields:
        inline = fields["files"].text_mapping()
        for rel in inline:
            _check_relative(fields["files"].child(rel, None), rel)
        files.update(inline)  # inline files add to or replace the fixture's
    if not files:
        node.fail("the project needs 'files' (inline) or 'fixture' (a folder in scenarios/fixtures)")
    if "pyproject.toml" not in files:
        node.fail("the project needs a pyproject.toml", "add one with a [build-system] table")
    offer_node = fields.get("offer")
    offer = offer_node.choice(OFFERS) if offer_node else "vcs"
    outside: dict[str, str] = {}
    if "outside" in fields:
        outside = fields["outside"].text_mapping()
        for rel in outside:
            _check_relative(fields["outside"].child(rel, None), rel)
    links: dict[str, str] = {}
    if "links" in fields:
        links = fields["links"].text_mapping()
        for rel, target in links.items():
            _check_relative(fields["links"].child(rel, None), rel)
            _check_placeholders(fields["links"].child(rel, target), target)
            if not target.startswith("{cell}/"):
                fields["links"].child(rel, target).fail(
                    f"link target '{target}' is not inside the cell", "start it with {cell}/"
                )
    dev_wheels: tuple[str, ...] = ()
    if "dev-wheels" in fields:
        dev_wheels = fields["dev-wheels"].texts()
        for i, rel in enumerate(dev_wheels):
            _check_relative(fields["dev-wheels"].child(i, rel), rel)
    return Project(
        name=fields["name"].text(),
        offer="vcs" if offer == "vcs" else "path",
        files=tuple(sorted(files.items())),
        fixture=fixture.text() if fixture is not None else None,
        outside=tuple(sorted(outside.items())),
        links=tuple(sorted(links.items())),
        dev_wheels=dev_wheels,
        sdists=fields["sdists"].texts() if "sdists" in fields else (),
        index=fields["index"].texts() if "index" in fields else (),
    )


def _fixture_files(node: Node) -> dict[str, str]:
    """The text files of a fixture folder, refusing anything that leads out of it."""
    name = node.text()
    base = (node.path.parent / FIXTURES).resolve()
    _check_relative(node, name)
    root = base / name
    if not root.is_dir():
        node.fail(f"no folder {root}", f"put the project in {base}/{name}/")
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            node.fail(f"{rel} is a symlink out of the fixture ({path.resolve()})", "copy the file in instead")
        if path.is_dir() or "__pycache__" in rel.split("/"):
            continue
        try:
            files[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            node.fail(f"{rel} is not a UTF-8 text file", "fixtures carry text files only")
        total += len(files[rel])
        if total > MAX_FIXTURE_BYTES:
            node.fail(f"more than {MAX_FIXTURE_BYTES} bytes of files", "keep fixtures small")
    return files


def _check_relative(node: Node, rel: str) -> None:
    """Project files are written into the cell: no absolute paths, no way out of the project."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or "\\" in rel or rel.startswith("~"):
        node.fail("file names must be relative paths inside the project", "drop the leading '/' or '..'")


def _step(node: Node) -> Step:
    if not isinstance(node.value, Mapping) or len(node.value) != 1:
        node.fail("each contamination step is a mapping with exactly one key", f"one of: {', '.join(STEP_KINDS)}")
    (kind,) = node.value
    body = node.mapping(optional=STEP_KINDS)[kind]
    if kind == "install":
        if isinstance(body.value, list):
            return Install(requirements=body.texts())
        f = body.mapping(required=("requirements",), optional=("into",))
        into = f["into"].choice(INSTALL_PLACES) if "into" in f else "host"
        return Install(requirements=f["requirements"].texts(), into=into)  # type: ignore[arg-type]
    if kind == "venv-config":
        f = body.mapping(required=("system-site-packages",))
        flag = f["system-site-packages"].value
        if not isinstance(flag, bool):
            f["system-site-packages"].fail("expected true or false")
        return VenvConfig(system_site_packages=flag)
    if kind == "editable-finder":
        module = body.mapping(required=("module",))["module"].text()
        if not MODULE_RE.match(module):
            body.child("module", module).fail(f"'{module}' is not a module name")
        return EditableFinder(module=module)
    if kind == "pth":
        f = body.mapping(required=("name", "lines"))
        pth_name = f["name"].text()
        if not re.match(r"^[A-Za-z0-9_.-]+\.pth$", pth_name):
            f["name"].fail(f"'{pth_name}' must be a plain file name ending in .pth")
        return PthFile(name=pth_name, lines=_placeheld_list(f["lines"]))
    if kind == "env":
        variables = body.text_mapping()
        for key, value in variables.items():
            if not ENV_RE.match(key):
                body.child(key, value).fail(f"'{key}' is not an environment variable name")
            _check_placeholders(body.child(key, value), value)
        return EnvVars(variables=tuple(sorted(variables.items())))
    sections: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if not isinstance(body.value, Mapping) or not body.value:
        body.fail("expected a mapping of pip config sections, such as {global: {target: '{target}'}}")
    for section, values in body.value.items():
        child = body.child(str(section), values)
        settings = child.text_mapping()
        for value in settings.values():
            _check_placeholders(child, value)
        sections.append((str(section), tuple(sorted(settings.items()))))
    return PipConfig(sections=tuple(sections))


def _action(node: Node) -> Action:
    others = tuple(name for name in FRONTENDS if name != "pip")
    fields = node.mapping(required=("frontend", "args"), optional=others)
    fields["frontend"].choice(("pip",))  # the base action is pip's; the others derive from it
    args = _placeheld_list(fields["args"])
    if not args:
        fields["args"].fail("the action needs a pip command, such as [install, '{project_url}']")
    own = tuple((name, _placeheld_list(fields[name])) for name in others if name in fields)
    return Action(frontend="pip", args=args, own=own)


def _placeheld_list(node: Node) -> tuple[str, ...]:
    items = node.texts()
    for i, item in enumerate(items):
        _check_placeholders(node.child(i, item), item)
    return items


def _check_placeholders(node: Node, text: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        node.fail(f"bad braces in '{text}': {exc}", "write '{{' and '}}' for literal braces")
    unknown = names - PLACEHOLDERS
    if unknown:
        node.fail(
            f"unknown placeholder {{{sorted(unknown)[0]}}}",
            f"placeholders are {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}",
        )


def _expectation(node: Node) -> Expectation:
    fields = node.mapping(required=("verdict",), optional=("pip", "python", "frontend"))
    verdict = Verdict(fields["verdict"].choice(EXPECTABLE))
    frontends: tuple[str, ...] = ()
    if "frontend" in fields:
        f = fields["frontend"]
        items = f.items() if isinstance(f.value, list) else [f]
        frontends = tuple(item.choice(FRONTENDS) for item in items)
    return Expectation(
        verdict=verdict,
        pip=_specifier(fields.get("pip")),
        python=_specifier(fields.get("python")),
        frontends=frontends,
    )


def _specifier(node: Node | None) -> SpecifierSet:
    if node is None:
        return SpecifierSet()
    text = node.text()
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        node.fail(f"'{text}' is not a version specifier", "write it like '>=20,<25' (PEP 440)")
