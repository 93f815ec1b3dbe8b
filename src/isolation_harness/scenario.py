"""Scenario files: one build-isolation bug each, loaded strictly into frozen typed objects."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from isolation_harness._strict import Fields, Node, load_yaml
from isolation_harness.errors import ConfigError
from isolation_harness.expectations import EXPECTABLE, Expectation, read_expectation
from isolation_harness.fixtures import FIXTURES, check_relative, fixture_files
from isolation_harness.frontends import DEFAULT_MODE
from isolation_harness.frontends import NAMES as FRONTENDS
from isolation_harness.packageindex import PackageIndex, read_index, uses_index
from isolation_harness.placeholders import PLACEHOLDERS, check_placeholders, placeheld_list
from isolation_harness.steps import (
    ENV_RE,
    INSTALL_PLACES,
    MODULE_RE,
    STEP_KINDS,
    Editable,
    EditableFinder,
    EnvVars,
    Install,
    PipConfig,
    PthFile,
    Step,
    VenvConfig,
    pinned_release,
    read_step,
)
from isolation_harness.upstream import Upstream, read_upstream
from isolation_harness.verdict import Verdict

# Kept importable from here: the step types live in steps.py, the placeholders in placeholders.py.
__all__ = [
    "ENV_RE",
    "EXPECTABLE",
    "FIXTURES",
    "INSTALL_PLACES",
    "MODULE_RE",
    "NAME_RE",
    "OFFERS",
    "PLACEHOLDERS",
    "STEP_KINDS",
    "Action",
    "Editable",
    "EditableFinder",
    "EnvVars",
    "Expectation",
    "Install",
    "PipConfig",
    "Project",
    "PthFile",
    "Scenario",
    "Step",
    "VenvConfig",
    "find_scenario",
    "load_scenario",
    "load_scenarios",
]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
OFFERS = ("vcs", "path", "sdist")


@dataclass(frozen=True)
class Project:
    """The project under test, written into the cell and offered to the frontend."""

    name: str
    offer: Literal["vcs", "path", "sdist"]
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
    # A released source distribution (NAME==VERSION) whose files are the project's, unpacked on the host
    # (sdistproject.py) before the cell: a real backend's own source, offered as the user would get it.
    from_sdist: str | None = None
    binary_files: tuple[tuple[str, str], ...] = ()  # base64, from that sdist
    # More distributions the package index would offer (a cell sees only the wheel directory): what
    # a contaminated build may ask for beyond the declared requirements, such as an old setuptools
    # asking for `wheel`.
    index: tuple[str, ...] = ()

    @property
    def file_map(self) -> dict[str, str]:
        return dict(self.files)

    @property
    def legacy(self) -> bool:
        """A setup.py project without pyproject.toml: pip decides itself whether to run setup.py
        directly or to build it with PEP 517's fallback (pip #8559, #6334); see pyproject.py."""
        return "pyproject.toml" not in self.file_map and self.from_sdist is None

    @property
    def digest(self) -> str:
        """sha256 of the project's files, whether inline or from a fixture."""
        if self.from_sdist is not None:  # the sdist's files are known after it is fetched: its name stands for them
            return hashlib.sha256(json.dumps([self.from_sdist, self.files]).encode()).hexdigest()
        parts = [self.files, self.outside, self.links, self.dev_wheels, self.sdists, self.index]
        return hashlib.sha256(json.dumps(parts if any(parts[1:]) else self.files).encode()).hexdigest()


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
    # The report's state upstream (the catalogue's files all say it; a scenario of one's own may not).
    upstream: Upstream | None = None
    # A package index the cell serves on loopback (TLS, basic auth), for bugs that need pip to talk to one.
    index: PackageIndex | None = None

    def skipped(self, frontend: str) -> str | None:
        return dict(self.skip_frontends).get(frontend)

    def expected(
        self,
        *,
        pip: Version,
        python: Version,
        frontend: str = "pip",
        mode: str = DEFAULT_MODE,
        release: str | None = None,
    ) -> Verdict | None:
        """The first expectation that covers the cell, or None when none does."""
        for rule in self.expect:
            if rule.matches(pip=pip, python=python, frontend=frontend, mode=mode, release=release):
                return rule.verdict
        return None

    @property
    def host_requirement_groups(self) -> list[list[str]]:
        """The requirements of each step that installs into the host, in order."""
        groups = [list(step.requirements) for step in self.contamination if isinstance(step, Install)]
        return groups + [list(step.requires) for step in self.contamination if isinstance(step, Editable)]

    @property
    def source_distributions(self) -> list[str]:
        """Releases whose source distributions the cells need: the project's, the editable installs'."""
        wanted = [*self.project.sdists, *([self.project.from_sdist] if self.project.from_sdist else [])]
        return wanted + [step.sdist for step in self.contamination if isinstance(step, Editable) and step.sdist]

    @property
    def fixtures(self) -> list[str]:
        """The folders of scenarios/fixtures the scenario reads (a run folder keeps a copy of each)."""
        names = [self.project.fixture] if self.project.fixture else []
        return names + [step.fixture for step in self.contamination if isinstance(step, Editable) and step.fixture]

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
        optional=("contamination", "timeout", "skip-frontends", "upstream", "index-server"),
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
        contamination=tuple(read_step(n) for n in steps_node.items()) if steps_node else (),
        action=_action(fields["action"]),
        expect=tuple(read_expectation(n) for n in fields["expect"].items()),
        timeout=timeout_node.whole(minimum=5, maximum=3600) if timeout_node else 300,
        source=path,
        skip_frontends=_skip_frontends(fields.get("skip-frontends")),
        upstream=read_upstream(fields["upstream"]) if "upstream" in fields else None,
        index=_index(fields.get("index-server"), path),
    )


def _index(node: Node | None, path: Path) -> PackageIndex | None:
    if node is not None:
        return read_index(node)
    used = uses_index(path.read_text(encoding="utf-8"))
    if used is not None:
        Node(path, "index-server", None).fail(
            f"{{{used}}} is used but the scenario serves no package index", "add index-server: {tls: true} (or {})"
        )
    return None


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


def _project(node: Node) -> Project:
    fields = node.mapping(
        required=("name",),
        optional=("offer", "files", "fixture", "from-sdist", "outside", "links", "dev-wheels", "sdists", "index"),
    )
    files = _project_files(node, fields)
    offer_node = fields.get("offer")
    offer = offer_node.choice(OFFERS) if offer_node else "vcs"
    outside = _relative_files(fields.get("outside"))
    links = _links(fields.get("links"))
    dev_wheels = _relative_paths(fields.get("dev-wheels"))
    fixture = fields.get("fixture")
    return Project(
        name=fields["name"].text(),
        offer="vcs" if offer == "vcs" else "sdist" if offer == "sdist" else "path",
        files=tuple(sorted(files.items())),
        fixture=fixture.text() if fixture is not None else None,
        outside=tuple(sorted(outside.items())),
        links=tuple(sorted(links.items())),
        dev_wheels=dev_wheels,
        sdists=fields["sdists"].texts() if "sdists" in fields else (),
        from_sdist=pinned_release(fields["from-sdist"]) if "from-sdist" in fields else None,
        index=fields["index"].texts() if "index" in fields else (),
    )


def _project_files(node: Node, fields: Fields) -> dict[str, str]:
    """The project's files: a fixture folder's, then the inline ones added or replacing them."""
    files: dict[str, str] = {}
    fixture = fields.get("fixture")
    if fixture is not None:
        files.update(fixture_files(fixture))
    files.update(_relative_files(fields.get("files")))  # inline files add to or replace the fixture's
    if "from-sdist" in fields:  # its files are the sdist's (inline ones replace them)
        return files
    if not files:
        node.fail(
            "the project needs 'files' (inline), 'fixture' (a folder in scenarios/fixtures) or 'from-sdist' (a release)"
        )
    if "pyproject.toml" not in files and "setup.py" not in files:
        node.fail(
            "the project needs a pyproject.toml (or, for a legacy project, a setup.py)",
            "add a pyproject.toml with a [build-system] table",
        )
    return files


def _relative_files(node: Node | None) -> dict[str, str]:
    """A mapping of relative file names to contents (nothing when the key is absent)."""
    if node is None:
        return {}
    files = node.text_mapping()
    for rel in files:
        check_relative(node.child(rel, None), rel)
    return files


def _links(node: Node | None) -> dict[str, str]:
    """Symbolic links to make in the project: relative names to targets inside the cell."""
    if node is None:
        return {}
    links = node.text_mapping()
    for rel, target in links.items():
        check_relative(node.child(rel, None), rel)
        check_placeholders(node.child(rel, target), target)
        if not target.startswith("{cell}/"):
            node.child(rel, target).fail(f"link target '{target}' is not inside the cell", "start it with {cell}/")
    return links


def _relative_paths(node: Node | None) -> tuple[str, ...]:
    """A list of relative paths (nothing when the key is absent)."""
    if node is None:
        return ()
    paths = node.texts()
    for i, rel in enumerate(paths):
        check_relative(node.child(i, rel), rel)
    return paths


def _action(node: Node) -> Action:
    others = tuple(name for name in FRONTENDS if name != "pip")
    fields = node.mapping(required=("frontend", "args"), optional=others)
    fields["frontend"].choice(("pip",))  # the base action is pip's; the others derive from it
    args = placeheld_list(fields["args"])
    if not args:
        fields["args"].fail("the action needs a pip command, such as [install, '{project_url}']")
    own = tuple((name, placeheld_list(fields[name])) for name in others if name in fields)
    return Action(frontend="pip", args=args, own=own)


def _specifier(node: Node | None) -> SpecifierSet:
    return SpecifierSet() if node is None else node.specifier()
