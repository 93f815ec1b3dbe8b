from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from isolation_harness.errors import ConfigError, InputError
from isolation_harness.matrix import Matrix, load_matrix, plan
from isolation_harness.scenario import Scenario
from isolation_harness.verdict import Verdict

REQUIRES = {"19.3.1": ">=2.7", "21.3.1": ">=3.6", "25.0": ">=3.8", "26.3": ">=3.10"}


def requires(pip: str) -> SpecifierSet:
    return SpecifierSet(REQUIRES.get(pip, ">=3.8"))


def test_not_applicable_cells_are_kept_with_their_reason(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(
        metapath, matrix, requires_python=requires, pythons=["3.9", "3.12"], pips=["21.3.1", "26.3"], frontends=["pip"]
    )
    assert [c.id for c in cells] == [
        "metapath/py3.9/pip21.3.1/pip",
        "metapath/py3.9/pip26.3/pip",
        "metapath/py3.12/pip21.3.1/pip",
        "metapath/py3.12/pip26.3/pip",
    ]
    reasons = {c.id: c.not_applicable for c in cells}
    assert reasons["metapath/py3.9/pip26.3/pip"] == "pip 26.3 requires Python >=3.10 (its Requires-Python)"
    assert "cannot start on Python 3.12" in (reasons["metapath/py3.12/pip21.3.1/pip"] or "")
    assert reasons["metapath/py3.9/pip21.3.1/pip"] is None
    assert [c.expected for c in cells] == [
        Verdict.BROKE,
        Verdict.NOT_APPLICABLE,
        Verdict.NOT_APPLICABLE,
        Verdict.LEAKED,
    ]


def test_full_matrix_covers_every_python_and_pip(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(metapath, matrix, requires_python=requires)
    assert len(cells) == len(matrix.pythons) * len(matrix.pips) * len(matrix.frontends)
    assert set(matrix.frontends) == {"pip", "pip-venv", "build", "uv"}
    assert {c.python for c in cells} == {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
    assert min(c.pip for c in cells).startswith("19.")


def test_bad_command_line_values(metapath: Scenario, matrix: Matrix) -> None:
    with pytest.raises(InputError, match="--pip banana: 'banana' is not a pip release"):
        plan(metapath, matrix, requires_python=requires, pips=["banana"])
    with pytest.raises(InputError, match="--python 3: not a Python version"):
        plan(metapath, matrix, requires_python=requires, pythons=["3"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "pythons: [3.10]\npips: ['24.0']\n",
            "key 'pythons[0]': 3.1 is a number, and YAML reads 3.10 as 3.1; quote Python versions",
        ),
        ("pythons: ['3.10']\npips: ['24.0']\nfrontend: [pip]\n", "unknown key; did you mean 'frontends'?"),
        ("pythons: ['3.10']\n", "key 'pips': missing required key"),
        ("pythons: ['3.10']\npips: ['24.0']\nknown-failures: [{pip: '<22', python: '>=3.12'}]\n", "reason"),
        (
            "pythons: ['3.10']\npips: ['24.0']\nknown-failures: [{pip: '<<22', python: '>=3.12', reason: x}]\n",
            "key 'known-failures[0].pip': '<<22' is not a version specifier; write it like '>=20,<25' (PEP 440)",
        ),
    ],
)
def test_bad_matrix_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_matrix(path)
    assert info.value.message.startswith(f"{path}: ")
    assert message in info.value.message
