"""The code's shape, as issue 15 set it: one job per module, small functions.

ruff's C901 (max-complexity 12, no per-function ignores) covers complexity; this covers length, which
ruff does not measure: no module over 400 lines, no function over 60 lines outside probe/ (the driver
and the probe keep Python 3.8's style and run as one script each, so a phase may read as one sequence).
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

SRC = ROOT / "src" / "isolation_harness"
MAX_MODULE = 400
MAX_FUNCTION = 60


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE}
    assert long == {}


def test_no_function_outside_probe_is_over_60_lines() -> None:
    long = {}
    for path in _modules():
        if "probe" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    long[f"{path.relative_to(SRC)}:{node.name}"] = length
    assert long == {}


def test_complexity_is_checked_without_exceptions() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"C90"' in text
    assert "max-complexity = 12" in text
    assert "C901" not in text.split("[tool.ruff.lint.per-file-ignores]")[1].split("[")[0]
    assert not [p for p in _modules() if "noqa: C901" in p.read_text()]


def test_the_measure_can_fail(tmp_path: Path) -> None:
    # A 61-line function is found by the same walk.
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    tree = ast.parse(f"def f():\n{body}\n")
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert (node.end_lineno or 0) - node.lineno + 1 == 61
