from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from isolation_harness.errors import ConfigError, InputError
from isolation_harness.matrix import Matrix, load_matrix, plan
from isolation_harness.scenario import Scenario
from isolation_harness.verdict import Verdict

from .conftest import FakeFacts

REQUIRES = {"19.3.1": ">=2.7", "21.3.1": ">=3.6", "25.0": ">=3.8", "26.3": ">=3.10"}


def requires(pip: str) -> SpecifierSet:
    return SpecifierSet(REQUIRES.get(pip, ">=3.8"))


def test_not_applicable_cells_are_kept_with_their_reason(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(
        metapath,
        matrix,
        facts=FakeFacts(requires),
        pythons=["3.9", "3.12"],
        pips=["21.3.1", "26.3"],
        frontends=["pip"],
        modes=["default"],
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


def test_pip_modes_apply_where_the_pips_feature_list_has_them(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(
        metapath,
        matrix,
        facts=FakeFacts(requires),
        pythons=["3.12"],
        pips=["25.0", "26.1.2", "26.3"],
        frontends=["pip"],
    )
    reasons = {c.id: c.not_applicable for c in cells}
    assert reasons["metapath/py3.12/pip26.3/pip+inprocess-build-deps+venv-isolation"] is None
    assert reasons["metapath/py3.12/pip26.1.2/pip+inprocess-build-deps"] is None
    assert reasons["metapath/py3.12/pip26.1.2/pip+venv-isolation"] == (
        "pip 26.1.2 has no --use-feature=venv-isolation, first released in pip 26.2 (pypa/pip#14070) "
        "(its features: fast-deps, inprocess-build-deps)"
    )
    assert reasons["metapath/py3.12/pip25.0/pip+inprocess-build-deps"] == (
        "pip 25.0 has no --use-feature=inprocess-build-deps, first released in pip 26.0 (its features: fast-deps)"
    )
    by_id = {c.id: c for c in cells}
    assert by_id["metapath/py3.12/pip26.3/pip+venv-isolation"].expected is Verdict.HELD
    assert by_id["metapath/py3.12/pip26.3/pip+inprocess-build-deps"].expected is Verdict.LEAKED
    # --mode narrows pip's modes and leaves out the frontends that have none, unless named.
    only = plan(metapath, matrix, facts=FakeFacts(requires), pythons=["3.12"], pips=["26.3"], modes=["venv-isolation"])
    assert [c.id for c in only] == ["metapath/py3.12/pip26.3/pip+venv-isolation"]
    named = plan(
        metapath,
        matrix,
        facts=FakeFacts(requires),
        pythons=["3.12"],
        pips=["26.3"],
        modes=["venv-isolation"],
        frontends=["pip", "uv==0.9.5"],
    )
    assert [c.id for c in named] == ["metapath/py3.12/pip26.3/pip+venv-isolation", "metapath/py3.12/pip26.3/uv==0.9.5"]
    with pytest.raises(InputError, match="--mode venv: not a pip mode; known: default, inprocess-build-deps"):
        plan(metapath, matrix, facts=FakeFacts(requires), modes=["venv"])


def test_frontend_releases_are_an_axis(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(
        metapath, matrix, facts=FakeFacts(requires), pythons=["3.8", "3.12"], pips=["25.0", "26.3"], frontends=["build"]
    )
    runnable = [c.id for c in cells if c.not_applicable is None]
    assert runnable == [
        "metapath/py3.8/pip25.0/build==1.2.2",
        "metapath/py3.12/pip26.3/build==1.2.2",
        *(f"metapath/py3.12/pip26.3/build=={r}" for r in ("1.4.2", "1.4.3", "1.4.4", "1.6.1")),
    ]
    reasons = {c.id: c.not_applicable for c in cells}
    assert reasons["metapath/py3.8/pip25.0/build==1.4.4"] == "build==1.4.4 requires Python >=3.9 (its Requires-Python)"
    pinned = plan(
        metapath, matrix, facts=FakeFacts(requires), pythons=["3.12"], pips=["26.3"], frontends=["build==1.4.3"]
    )
    assert [(c.id, c.release, c.mode) for c in pinned] == [("metapath/py3.12/pip26.3/build==1.4.3", "1.4.3", "default")]
    for value, message in [
        ("build==x", "--frontend build==x: 'x' is not a release number like 1.4.2"),
        ("pip==26.3", "--frontend pip==26.3: pip's releases are the pip axis; write --pip 26.3"),
        (
            "pip-venv",
            "--frontend pip-venv: 'pip-venv' is now frontend pip in mode venv-isolation; "
            "write --frontend pip --mode venv-isolation",
        ),
    ]:
        with pytest.raises(InputError, match=re.escape(message)):
            plan(metapath, matrix, facts=FakeFacts(requires), frontends=[value])


def test_full_matrix_covers_every_python_and_pip(metapath: Scenario, matrix: Matrix) -> None:
    cells = plan(metapath, matrix, facts=FakeFacts(requires))
    variants = len(matrix.modes) + sum(len(matrix.releases(f)) for f in matrix.frontends if f != "pip")
    assert len(cells) == len(matrix.pythons) * len(matrix.pips) * variants
    assert set(matrix.frontends) == {"pip", "build", "uv"}
    assert {c.python for c in cells} == {"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
    assert min(c.pip for c in cells).startswith("19.")


def test_bad_command_line_values(metapath: Scenario, matrix: Matrix) -> None:
    with pytest.raises(InputError, match="--pip banana: 'banana' is not a pip release"):
        plan(metapath, matrix, facts=FakeFacts(requires), pips=["banana"])
    with pytest.raises(InputError, match="--python 3: not a Python version"):
        plan(metapath, matrix, facts=FakeFacts(requires), pythons=["3"])


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


def test_the_command_line_cannot_widen_a_scenarios_own_axes(matrix: Matrix) -> None:
    """matrix.yaml narrows keyring-build-deps to Pythons 3.9+ and pips 24.0+ (its requirements do not
    exist below): asked on the command line, the cells outside are planned not-applicable with the
    reason, never run (run --all --python 3.8 used to stop on their requirements). A pip that is not
    a release (a checkout) is not narrowed."""
    from isolation_harness.scenario import load_scenario

    from .conftest import SCENARIOS

    keyring = load_scenario(SCENARIOS / "keyring-build-deps.yaml")
    pips = ["20.0.2", "25.0", "26.0.1+checkout.0123abcd"]
    cells = plan(keyring, matrix, facts=FakeFacts(requires), pythons=["3.8", "3.11"], pips=pips, frontends=["pip"])
    reasons = {c.id: c.not_applicable for c in cells if c.mode == "default"}
    assert reasons["keyring-build-deps/py3.8/pip25.0/pip"] == (
        "keyring-build-deps runs on Pythons 3.9, 3.10, 3.11, 3.12, 3.13 only "
        "(matrix.yaml, scenarios: keyring-build-deps)"
    )
    assert (reasons["keyring-build-deps/py3.11/pip20.0.2/pip"] or "").startswith(
        "keyring-build-deps runs with pips 24.0, 24.2, 24.3.1, 25.0"
    )
    assert reasons["keyring-build-deps/py3.11/pip25.0/pip"] is None
    assert reasons["keyring-build-deps/py3.11/pip26.0.1+checkout.0123abcd/pip"] is None
    # Without the command line, the scenario's own axes are the plan.
    assert {c.python for c in plan(keyring, matrix, facts=FakeFacts(requires))} == {
        "3.9",
        "3.10",
        "3.11",
        "3.12",
        "3.13",
    }
