"""Strict reading of YAML documents into typed values.

Every accessor knows the file and the key path it reads, so a bad document fails with one line naming
both (and the closest valid key for a typo), in the manner of cibuildwheel's options reader.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from isolation_harness.errors import ConfigError

# Scenario files are small hand-written documents; anything much larger is a mistake or an attack.
MAX_DOCUMENT_BYTES = 1_000_000
MAX_DEPTH = 32


def load_yaml(path: Path) -> Any:
    """Load one YAML document safely, refusing huge or deeply nested input with a clear message."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read file ({exc.strerror})") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"{path}: file is {len(raw)} bytes, more than the {MAX_DOCUMENT_BYTES} allowed")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nesting too deep to be a scenario or matrix file") from None
    _check_depth(path, data, 0)
    return data


def _check_depth(path: Path, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(path, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(path, item, depth + 1)


class Node:
    """A value in a document, with the file and key path it came from."""

    def __init__(self, path: Path, key: str, value: Any) -> None:
        self.path = path
        self.key = key
        self.value = value

    def fail(self, problem: str, fix: str = "") -> NoReturn:
        where = f"key '{self.key}'" if self.key else "top level"
        tail = f"; {fix}" if fix else ""
        raise ConfigError(f"{self.path}: {where}: {problem}{tail}")

    def child(self, key: str | int, value: Any) -> Node:
        name = f"{self.key}[{key}]" if isinstance(key, int) else (f"{self.key}.{key}" if self.key else key)
        return Node(self.path, name, value)

    # -- scalars ---------------------------------------------------------------------------------
    def text(self) -> str:
        value = self.value
        if not isinstance(value, str) or not value.strip():
            self.fail(f"expected a non-empty string, got {_kind(value)}")
        return value

    def whole(self, *, minimum: int = 1, maximum: int = 86_400) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(f"expected a whole number, got {_kind(self.value)}")
        if not minimum <= self.value <= maximum:
            self.fail(f"{self.value} is outside {minimum}..{maximum}")
        return self.value

    def choice(self, allowed: Iterable[str]) -> str:
        options = list(allowed)
        text = self.text()
        if text not in options:
            self.fail(f"'{text}' is not one of {', '.join(options)}", _suggest(text, options))
        return text

    def specifier(self) -> SpecifierSet:
        """A PEP 440 version specifier, such as '>=20,<25'."""
        text = self.text()
        try:
            return SpecifierSet(text)
        except InvalidSpecifier:
            self.fail(f"'{text}' is not a version specifier", "write it like '>=20,<25' (PEP 440)")

    # -- containers ------------------------------------------------------------------------------
    def items(self, *, allow_empty: bool = False) -> list[Node]:
        if not isinstance(self.value, list):
            self.fail(f"expected a list, got {_kind(self.value)}")
        if not self.value and not allow_empty:
            self.fail("expected at least one item")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    def texts(self, *, allow_empty: bool = False) -> tuple[str, ...]:
        return tuple(item.text() for item in self.items(allow_empty=allow_empty))

    def mapping(self, *, required: Iterable[str] = (), optional: Iterable[str] = ()) -> Fields:
        """A mapping with a closed set of keys: unknown keys fail with the closest valid one."""
        if not isinstance(self.value, Mapping):
            self.fail(f"expected a mapping, got {_kind(self.value)}")
        req, opt = list(required), list(optional)
        known = req + opt
        for key in self.value:
            if not isinstance(key, str):
                self.fail(f"key {key!r} is not a string")
            if key not in known:
                self.child(key, None).fail("unknown key", _suggest(key, known) or f"valid keys: {', '.join(known)}")
        for key in req:
            if key not in self.value:
                self.child(key, None).fail("missing required key")
        return Fields(self, dict(self.value))

    def text_mapping(self) -> dict[str, str]:
        """A free mapping of string keys to string values (file contents, environment variables)."""
        if not isinstance(self.value, Mapping):
            self.fail(f"expected a mapping, got {_kind(self.value)}")
        result: dict[str, str] = {}
        for key, value in self.value.items():
            if not isinstance(key, str) or not key:
                self.fail(f"key {key!r} is not a non-empty string")
            child = self.child(key, value)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                child.fail(f"expected a string, got {_kind(value)}")
            result[key] = str(value)
        return result


class Fields:
    """The keys of one mapping node."""

    def __init__(self, node: Node, values: dict[str, Any]) -> None:
        self.node = node
        self.values = values

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __getitem__(self, key: str) -> Node:
        return self.node.child(key, self.values.get(key))

    def get(self, key: str) -> Node | None:
        return self[key] if key in self.values else None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
