"""The placeholders a cell fills in a scenario's text, and checking that text uses only those."""

from __future__ import annotations

import string

from isolation_harness._strict import Node

# Placeholders the cell fills in; anything else in braces is a mistake in the scenario.
# {path}: the PATH the frontend would get, for an `env` step that puts a folder before it.
# {host_site}: the host venv's site-packages, for an `env` step that points PYTHONPATH at it (build #405).
# The package index's (packageindex.py), filled once the cell's index listens: {index_url} without
# credentials, {index_url_auth} with them, {index_netloc} host:port, {index_ca} the private CA's
# certificate file, {index_user} and {index_password}. A scenario without `index-server:` may not use them.
INDEX_PLACEHOLDERS = frozenset(
    {"index_url", "index_url_auth", "index_netloc", "index_ca", "index_user", "index_password"}
)
PLACEHOLDERS = (
    frozenset({"target", "project_url", "project_dir", "cell", "run", "wheelhouse", "path", "host_site"})
    # {project_requirements}: a requirements file naming an sdist offer with its sha256 (hash-checking).
    | {"project_requirements"}
    | INDEX_PLACEHOLDERS
)


def placeheld_list(node: Node) -> tuple[str, ...]:
    """A list of strings that may use placeholders."""
    items = node.texts()
    for i, item in enumerate(items):
        check_placeholders(node.child(i, item), item)
    return items


def check_placeholders(node: Node, text: str) -> None:
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
