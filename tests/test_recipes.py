"""The two image recipes give the same cells: the local recipe (a pyenv interpreter on a debootstrap root)
and the slim recipe (the official python:X.Y-slim; here its offline stand-in, which Dockerfile.slim
builds on unchanged). GitHub runs the slim one, this machine the local one: a verdict that depended on
the recipe would make the weekly run disagree with every measurement made here.

The scenarios are the ones that reach the base interpreter (its site-packages: the official images
carry pip, and setuptools and wheel before 3.12), plus metapath; every frontend; three (Python, pip)
pairs across the axes. Verdicts must be identical, and the probe's facts identical once paths are
normalised (the interpreter lives at its pyenv prefix in one recipe and under /usr/local in the other).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from isolation_harness import runner
from isolation_harness.engines.docker import DockerEngine, daemon_answers
from isolation_harness.evidence import RunFacts
from isolation_harness.frontends import NAMES as FRONTENDS
from isolation_harness.matrix import Matrix
from isolation_harness.record import CellRecord
from isolation_harness.runner import RunRequest
from isolation_harness.scenario import load_scenario
from isolation_harness.wheelhouse import Wheelhouse
from tests.conftest import SCENARIOS, require_engine

pytestmark = [pytest.mark.engine, pytest.mark.docker]

NAMES = ("metapath", "system-site-packages", "user-site", "pth-setuptools", "distutils-hack")
PAIRS = (("3.8", "21.3.1"), ("3.11", "24.0"), ("3.13", "26.3"))
FACTS = (
    "exit_code",
    "error",
    "hook_processes",
    "backend_file",
    "backend_in_backend_path",
    "foreign_finders",
    "foreign_path_hooks",
    "foreign_paths",
    "host_code_ran",
    "host_pth_processed",
    "influence",
)
# Folder names made at random per run: pip's build environments and clones (pip-install-x1y2z3ab,
# my-backend_<uuid hex>), pypa/build's (build-env-x1y2z3ab), uv's (.tmpAbC123), tempfile's (tmpx1y2z3ab).
_RANDOM = re.compile(
    r"(?<=/)(?:(?P<prefix>pip-[a-z-]+-|build-env-|\.?tmp)[A-Za-z0-9_]{6,8}|(?P<name>[A-Za-z0-9.-]+_)[0-9a-f]{32})(?=/|$)"
)
_PID = re.compile(r"\(pid \d+\)")


def _run(recipe: str, tmp: Path, matrix: Matrix, wheelhouse: Wheelhouse) -> dict[str, CellRecord]:
    engine = DockerEngine(recipe=recipe)
    scenarios = [load_scenario(SCENARIOS / f"{name}.yaml") for name in NAMES]
    records: dict[str, CellRecord] = {}
    for python, pip in PAIRS:
        request = RunRequest(
            scenarios,
            matrix,
            engine,
            wheelhouse,
            tmp,
            pythons=[python],
            pips=[pip],
            # Every frontend at one release, pip in its default and venv modes: the cells of before.
            frontends=["pip", "build==1.6.1", "uv==0.13.9"],
            modes=["default", "venv-isolation"],
            jobs=2,
            run_id=f"{recipe}-py{python}",
        )
        result = runner.run(request)
        records.update({r.cell: r for r in result.records})
    return records


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, matrix: Matrix, wheelhouse: Wheelhouse) -> Iterator[Any]:
    require_engine("docker", daemon_answers())
    tmp = tmp_path_factory.mktemp("recipes")
    with pytest.MonkeyPatch.context() as patch:
        # No registry here: the slim recipe builds on the stand-in of python:X.Y-slim.
        patch.setenv("ISOLATION_HARNESS_SLIM_BASE", "standin")
        yield _run("local", tmp, matrix, wheelhouse), _run("slim", tmp, matrix, wheelhouse)


def _normal(value: Any, record: CellRecord) -> Any:
    """A fact with the paths that depend on where the interpreter lives, and random names, replaced."""
    if isinstance(value, list | tuple):  # facts hold tuples; their JSON holds lists
        return [_normal(v, record) for v in value]
    if not isinstance(value, str):
        return value
    exact = record.python_exact
    axis = record.python
    for prefix in (f"/root/.pyenv/versions/{exact}", "/usr/local"):
        value = value.replace(f"{prefix}/lib/python{axis}", "<stdlib>").replace(f"{prefix}/bin", "<bin>")
    value = _RANDOM.sub(lambda m: f"{m['prefix'] or m['name']}<random>", value)
    return _PID.sub("(pid <n>)", value)


def facts(record: CellRecord) -> dict[str, Any]:
    runs = {"control": record.control, "experiment": record.experiment}
    return {
        name: {key: _normal(getattr(run.facts, key), record) for key in FACTS}
        for name, run in runs.items()
        if run is not None
    }


def _experiment(record: CellRecord) -> RunFacts:
    assert record.experiment is not None, record.cell
    return record.experiment.facts


def test_both_recipes_ran_the_same_cells(both: Any) -> None:
    local, slim = both
    assert sorted(local) == sorted(slim)
    ran = [r for r in local.values() if r.verdict != "not-applicable"]
    # Every frontend has cells that ran (venv-isolation only at 26.3; build and uv at each pair).
    assert {r.frontend for r in ran} == set(FRONTENDS)
    for record in slim.values():
        if record.verdict != "not-applicable":
            assert record.engine.image_recipe == "slim"
            assert (record.engine.image_base or "").endswith(f"/standin:{record.python}-slim")
    for record in local.values():
        if record.verdict != "not-applicable":
            assert record.engine.image_recipe == "local"


def test_both_recipes_give_the_same_verdicts(both: Any) -> None:
    local, slim = both
    differ = {cell: (local[cell].verdict, slim[cell].verdict) for cell in local}
    differ = {cell: pair for cell, pair in differ.items() if pair[0] != pair[1]}
    assert differ == {}
    # And the verdicts are the measured expectations, not merely equal to each other.
    assert [cell for cell, r in local.items() if not r.match] == []


def test_both_recipes_give_the_same_probe_facts(both: Any) -> None:
    local, slim = both
    for cell, record in local.items():
        if record.verdict == "not-applicable":
            continue
        assert facts(record) == facts(slim[cell]), cell
        assert record.engine.base_packages == slim[cell].engine.base_packages, cell


def test_the_base_reaches_the_build_where_the_official_images_put_setuptools(both: Any) -> None:
    """The fact the local recipe missed before it carried the official base: with the base visible to
    the venv, the base's setuptools (3.8-3.11, not 3.12+) plants _distutils_hack's finder in pip's
    build processes."""
    local, _ = both
    hack = "_distutils_hack.DistutilsMetaFinder"
    on_311 = _experiment(local["user-site/py3.11/pip24.0/pip"]).foreign_finders
    on_313 = _experiment(local["user-site/py3.13/pip26.3/pip"]).foreign_finders
    assert any(hack in f for f in on_311), on_311
    assert not any(hack in f for f in on_313), on_313


def test_facts_normalise_paths_random_names_and_pids_in_lists_and_tuples() -> None:
    """The comparison itself (no engine): what differs only by where the interpreter lives or by chance
    compares equal, what differs in substance does not."""

    def record(prefix: str, pid: int, ran: Callable[[list[str]], Any]) -> CellRecord:
        # ran: tuple for a record made in memory (its to_json), list for one read back from JSON.
        run = {
            "exit_code": 0,
            "backend_file": f"/cell/tmp/pip-install-ab12cd34/my-backend_{'0123456789abcdef' * 2}/my_backend.py",
            "foreign_finders": ran([f"x.Finder ({prefix}/lib/python3.11/site-packages/x.py)"]),
            "host_code_ran": ran([f"1:pth (pid {pid})"]),
        }
        data = {
            "run_id": "r",
            "cell": "s/py3.11/pip24.0/pip",
            "scenario": "s",
            "python": {"exact": "3.11.7", "axis": "3.11"},
            "pip": {"version": "24.0"},
            "engine": {"name": "docker", "isolation": "container"},
            "verdict": "leaked",
            "match": True,
            "control": run,
            "experiment": run,
        }
        return CellRecord.from_json(data)

    local = record("/root/.pyenv/versions/3.11.7", 51, tuple)
    assert facts(local) == facts(record("/usr/local", 52, list))
    assert facts(local) != facts(record("/usr/local", 52, lambda items: [*items, "2:pth (pid 9)"]))
