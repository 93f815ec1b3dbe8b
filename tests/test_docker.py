"""The docker engine against a real Docker daemon, with images built from containers/.

With CI=true these tests must run: a CI run where the engine is missing fails instead of skipping.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from isolation_harness import runner
from isolation_harness.engines.docker import LABEL_CELL, DockerEngine, daemon_answers
from isolation_harness.engines.local import LocalEngine
from isolation_harness.evidence import RunFacts
from isolation_harness.matrix import Matrix
from isolation_harness.record import CellRecord
from isolation_harness.runner import RunRequest
from isolation_harness.scenario import Scenario, load_scenario
from isolation_harness.wheelhouse import Wheelhouse

from .conftest import SCENARIOS, hang_scenario, require_engine

pytestmark = [pytest.mark.engine, pytest.mark.docker]
PY = "3.11"


@pytest.fixture(scope="module")
def docker_engine() -> DockerEngine:
    require_engine("docker", daemon_answers())
    return DockerEngine()


def cell_containers(engine: DockerEngine) -> list[Any]:
    return list(engine.client.containers.list(all=True, filters={"label": LABEL_CELL}))


def run(
    engine: Any, scenario: Scenario, matrix: Matrix, wheelhouse: Wheelhouse, out: Path, *, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], CellRecord]:
    request = RunRequest(
        [scenario],
        matrix,
        engine,
        wheelhouse,
        out,
        pythons=sorted({p for p, _ in pairs}),
        pips=sorted({v for _, v in pairs}),
        frontends=["pip"],
        modes=["default"],
        jobs=2,
    )
    cells = runner.plan_cells(request)
    only = frozenset(c.id for c, _ in cells if (c.python, c.pip) in pairs)
    assert {(c.python, c.pip) for c, _ in cells if c.id in only} == set(pairs)
    result = runner.run(dataclasses.replace(request, only=only))
    return {(r.python, r.pip.version): r for r in result.records}


def facts(record: CellRecord, name: str) -> RunFacts:
    run = record.run(name)
    assert run is not None, f"{record.cell}: no {name} run"
    return run.facts


def test_docker_verdicts_equal_local_verdicts(
    docker_engine: DockerEngine, matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIOS / "metapath.yaml")
    pairs = [("3.11", "19.3.1"), ("3.12", "24.0"), ("3.8", "25.0")]
    in_docker = run(docker_engine, scenario, matrix, wheelhouse, tmp_path / "d", pairs=pairs)
    local = run(LocalEngine(), scenario, matrix, wheelhouse, tmp_path / "l", pairs=pairs)
    verdicts = {pair: r.verdict for pair, r in in_docker.items()}
    assert verdicts == {("3.11", "19.3.1"): "unsupported", ("3.12", "24.0"): "broke", ("3.8", "25.0"): "leaked"}
    assert verdicts == {pair: r.verdict for pair, r in local.items()}
    record = in_docker[("3.12", "24.0")]
    assert record.engine.name == "docker"
    assert record.engine.isolation == "container"
    assert (record.engine.image_id or "").startswith("sha256:")
    assert (record.python_exact or "").startswith("3.12.")
    assert (facts(record, "experiment").backend_file or "").startswith("/cell/editable/")
    assert cell_containers(docker_engine) == []


def test_cell_is_confined(docker_engine: DockerEngine, wheelhouse: Wheelhouse) -> None:
    script = (
        "import os, socket\n"
        "print('uid', os.getuid())\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3); print('network yes')\n"
        "except OSError as e:\n"
        "    print('network no', e.errno)\n"
        "try:\n"
        "    open('/wheels/x', 'w'); print('wheels writable')\n"
        "except OSError:\n"
        "    print('wheels read-only')\n"
        "print('socket', os.path.exists('/var/run/docker.sock'))\n"
        "print('status', [l for l in open('/proc/self/status') if l.startswith(('CapEff', 'NoNewPrivs'))])\n"
    )
    python = docker_engine.images.get(PY).python
    code, output = docker_engine.run_command(PY, [python, "-I", "-c", script], wheelhouse.root)
    assert code == 0, output
    assert "uid 1000" in output
    assert "network no" in output
    assert "wheels read-only" in output
    assert "socket False" in output
    assert "CapEff:\\t0000000000000000" in output
    assert "NoNewPrivs:\\t1" in output


@pytest.mark.parametrize("engine_name", ["docker", "local"])
def test_hung_build_is_killed_and_recorded_as_timeout(
    engine_name: str, docker_engine: DockerEngine, matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    engine: Any = docker_engine if engine_name == "docker" else LocalEngine()
    scenario = hang_scenario(tmp_path, timeout=5)
    records = run(engine, scenario, matrix, wheelhouse, tmp_path / "out", pairs=[(PY, "24.0")])
    record = records[(PY, "24.0")]
    assert record.verdict == "timeout"
    assert record.match is True
    assert facts(record, "control").timed_out is True
    assert 5.0 <= facts(record, "control").duration < 9.0  # killed within a few seconds of its limit
    assert cell_containers(docker_engine) == []


def test_container_removed_after_failing_and_interrupted_cells(
    docker_engine: DockerEngine, matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    scenario = hang_scenario(tmp_path, timeout=600)
    request = RunRequest(
        [scenario],
        matrix,
        docker_engine,
        wheelhouse,
        tmp_path / "out",
        pythons=[PY],
        pips=["24.0"],
        frontends=["pip"],
        modes=["default"],
        jobs=1,
        run_id="interrupted",
    )
    cells = runner.plan_cells(request)
    runner.check_pythons(docker_engine, cells)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runner.execute(cells, request)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    deadline = time.monotonic() + 120
    while not cell_containers(docker_engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cell_containers(docker_engine), "the cell's container never started"
    time.sleep(2)
    docker_engine.abort()  # what Ctrl-C and SIGTERM do
    worker.join(60)
    docker_engine._aborted = False
    assert not worker.is_alive()
    assert cell_containers(docker_engine) == []
    # The interrupt reaches the caller (the CLI turns it into exit 130), and the killed cell has no
    # record: a resumed run does it again.
    assert [type(e) for e in errors] == [KeyboardInterrupt]
    results = tmp_path / "out" / "interrupted" / "results.jsonl"
    assert not results.exists() or results.read_text() == ""


def test_cell_memory_and_process_limits(wheelhouse: Wheelhouse) -> None:
    require_engine("docker", daemon_answers())
    small = DockerEngine(memory="256m", pids=64)
    python = small.images.get(PY).python
    hog = "b = []\nwhile True: b.append(bytearray(50 * 1024 * 1024))"
    code, _ = small.run_command(PY, [python, "-I", "-c", hog], wheelhouse.root)
    assert code == 137  # killed by the kernel's OOM killer inside the cell's cgroup
    forks = (
        "import os, time\nn = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n        n += 1\n"
        "except OSError as e:\n    print('stopped at', n, e.errno)"
    )
    code, output = small.run_command(PY, [python, "-I", "-c", forks], wheelhouse.root, timeout=120)
    assert "stopped at" in output, output
    assert int(output.split()[2]) < 64


def test_prepared_environments_never_change_a_verdict(
    docker_engine: DockerEngine, matrix: Matrix, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    scenario = load_scenario(SCENARIOS / "metapath.yaml")
    pairs = [("3.11", "19.3.1"), ("3.12", "24.0"), ("3.8", "25.0")]
    prepared = run(docker_engine, scenario, matrix, wheelhouse, tmp_path / "p", pairs=pairs)
    fresh = run(DockerEngine(prepared=False), scenario, matrix, wheelhouse, tmp_path / "f", pairs=pairs)
    assert {k: r.verdict for k, r in prepared.items()} == {k: r.verdict for k, r in fresh.items()}
    for key, record in prepared.items():
        for name in ("control", "experiment"):
            assert facts(record, name).exit_code == facts(fresh[key], name).exit_code
            assert facts(record, name).backend_in_backend_path == facts(fresh[key], name).backend_in_backend_path
            assert facts(record, name).foreign_finders == facts(fresh[key], name).foreign_finders
