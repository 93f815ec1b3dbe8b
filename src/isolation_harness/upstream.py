"""A scenario's upstream state: the report it replays, whether it is open, fixed or never reported, and
the first release of each frontend that has the fix.

The state is a claim about the world that the measurements can contradict: the status page
(catalogue.py) flags an open report whose newest releases hold and a fixed one that reproduces again,
and a test checks each ``fixed-in`` release against the scenario's measured expectations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from packaging.version import InvalidVersion, Version

from isolation_harness._strict import Node
from isolation_harness.frontends import NAMES as FRONTENDS

# guard: no bug, the scenario checks that isolation holds where it should (a seed's working way, a
# control for its sibling scenario): the status page watches it for a regression.
STATES = ("open", "fixed", "unreported", "guard")
State = Literal["open", "fixed", "unreported", "guard"]

# The frontend whose tracker a report is on, when the scenario does not say.
_TRACKERS = {"pypa/pip": "pip", "pypa/build": "build", "astral-sh/uv": "uv"}


@dataclass(frozen=True)
class Upstream:
    url: str
    state: State
    # The frontend the report is about: the status page checks its newest releases against the state.
    frontend: str
    # (frontend, first release with the fix), for a fixed report.
    fixed_in: tuple[tuple[str, Version], ...] = ()


def read_upstream(node: Node) -> Upstream:
    fields = node.mapping(required=("url", "state"), optional=("frontend", "fixed-in"))
    url = fields["url"].text().strip()
    if not url.startswith("https://"):
        fields["url"].fail(f"'{url}' is not an https:// URL", "give the upstream report (or, unreported, the docs)")
    state = fields["state"].choice(STATES)
    frontend_node = fields.get("frontend")
    frontend = frontend_node.choice(FRONTENDS) if frontend_node else _tracker(url)
    if frontend is None:
        fields["url"].fail(
            f"'{url}' is not on pip's, build's or uv's tracker", "say which frontend it concerns: frontend: pip"
        )
    fixed_node = fields.get("fixed-in")
    fixed_in: tuple[tuple[str, Version], ...] = ()
    if fixed_node is not None:
        if state != "fixed":
            fixed_node.fail(f"a report in state '{state}' has no fixed-in release", "drop fixed-in or set state: fixed")
        fixed_in = tuple(_release(fixed_node, name, text) for name, text in fixed_node.text_mapping().items())
        if not fixed_in:
            fixed_node.fail("names no release", "write fixed-in: {pip: '25.0'}")
    elif state == "fixed":
        fields["state"].fail("a fixed report needs the first release with the fix", "add fixed-in: {pip: '25.0'}")
    checked: State = next(s for s in ("open", "fixed", "unreported", "guard") if s == state)
    return Upstream(url=url, state=checked, frontend=frontend, fixed_in=fixed_in)


def _tracker(url: str) -> str | None:
    match = re.match(r"^https://github\.com/([^/]+/[^/]+)/", url)
    return _TRACKERS.get(match.group(1)) if match else None


def _release(node: Node, name: str, text: str) -> tuple[str, Version]:
    node.child(name, name).choice(FRONTENDS)
    child = node.child(name, text)
    try:
        return name, Version(text)
    except InvalidVersion:
        child.fail(f"'{text}' is not a release number", "write it like '25.0.1'")
