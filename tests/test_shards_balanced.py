"""Shards balanced on measured cell times (issue 19): the units of the catalogue packed into N jobs
that finish together, the plan's estimates printed, and a shard's units run by `run --unit`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isolation_harness.cellcache import CellCache, Entry
from isolation_harness.cli import main
from isolation_harness.engines import EngineInfo
from isolation_harness.matrix import Matrix
from isolation_harness.scenario import load_scenarios
from isolation_harness.shards import Unit, balanced, balanced_matrix, units
from tests.conftest import SCENARIOS


def _unit(name: str, estimate: float) -> Unit:
    scenario, _, python = name.partition("@")
    return Unit(scenario, python, estimate, 1)


def test_longest_first_onto_the_lightest_shard() -> None:
    found = [_unit(f"s{n}@3.11", t) for n, t in enumerate([100, 90, 60, 50, 40, 30, 20, 10])]
    shards = balanced(found, 3)
    totals = sorted(sum(u.estimate for u in shard) for shard in shards)
    assert totals == [130, 130, 140]  # one unit per job would end at 100; one job at 400
    assert sum(len(s) for s in shards) == 8
    assert balanced(found[:2], 5) == [[found[0]], [found[1]]]  # never an empty job
    with pytest.raises(Exception, match="--shards must be 1 or more"):
        balanced(found, 0)
    include = balanced_matrix(shards)["include"]
    assert [e["name"] for e in include] == ["shard-1", "shard-2", "shard-3"]
    assert include[0]["units"].split()[0] == "s0@3.11"


def test_estimates_sum_measured_cells_and_unmeasured_units_get_the_median(matrix: Matrix) -> None:
    scenarios = [load_scenarios(SCENARIOS)[name] for name in ("metapath", "pth-exec")]
    durations = {
        "metapath/py3.11/pip24.0/pip": 6.0,
        "metapath/py3.11/pip25.0/pip": 4.0,
        "metapath/py3.12/pip25.0/pip": 9.0,
    }
    found = {u.name: u for u in units(scenarios, matrix, durations, pythons=["3.11", "3.12"])}
    assert (found["metapath@3.11"].estimate, found["metapath@3.11"].measured) == (10.0, 2)
    assert found["metapath@3.12"].estimate == 9.0
    # Never measured: the median measured unit's time (of 9 and 10: the upper).
    assert (found["pth-exec@3.11"].estimate, found["pth-exec@3.11"].measured) == (10.0, 0)


def test_shards_command_reads_the_cache_and_prints_each_shards_wall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = CellCache(tmp_path / "cache")
    out = tmp_path / "out"
    out.mkdir()
    info = EngineInfo(name="docker", isolation="container")
    for n, (cell, seconds) in enumerate(
        {"metapath/py3.11/pip24.0/pip": 40.0, "pth-exec/py3.12/pip25.0/pip": 8.0}.items()
    ):
        cache.put(Entry(f"{n:02d}" * 32, "r", cell, False, None, info, "3.11.9", "a", "b", seconds, "broke"), out)
    args = ["shards", "--scenario", "metapath", "--scenario", "pth-exec", "--python", "3.11", "--python", "3.12"]
    code = main([*args, "--shards", "2", "--jobs", "2", "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert code == 0
    include = json.loads(captured.out.splitlines()[-1])["include"]
    # Measured: metapath@3.11 40 s, pth-exec@3.12 8 s; the two never measured get the median (40 s).
    assert [e["estimate"] for e in include] == [80, 48]
    assert sorted(" ".join(e["units"] for e in include).split()) == [
        "metapath@3.11", "metapath@3.12", "pth-exec@3.11", "pth-exec@3.12"
    ]  # fmt: skip
    assert "4 units (2 with measured times, 2 cells) in 2 shards:" in captured.err
    assert "shard-1: estimated wall 40 s (80 s of cells, 2 units)" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "metapath"], "--unit metapath: expected SCENARIO@X.Y, such as metapath@3.11"),
        (["--unit", "metapath@3.11", "--scenario", "metapath"], "--unit names the scenarios and Pythons"),
    ],
)
def test_bad_units_are_one_line_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *args, "--engine", "local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_resume_refuses_a_narrowing_it_would_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path), "--all", "--python", "3.11", "--engine", "local"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--resume completes the run's own plan: leave out --all, --python" in line
