"""Interrupted, hung, flaky or hostile: nothing finished is lost and nothing is left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isolation_harness._strict import MAX_DEPTH
from isolation_harness.cli import main
from isolation_harness.engines.docker import LABEL_CELL, DockerEngine, daemon_answers
from isolation_harness.errors import ConfigError
from isolation_harness.matrix import load_matrix
from isolation_harness.record import combine_repeats
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import load_scenario

from .conftest import ROOT, SCENARIOS, cell_record, copy_repo_inputs, hang_scenario, harness, require_engine

PY = "3.11"
PIPS = ["23.0.1", "24.0", "25.0"]
DOCKER_PIPS = ["20.0.2", "21.3.1", "22.3.1", "23.0.1", "24.0", "24.2", "25.0"]


# -- records ----------------------------------------------------------------------------------------
def test_damaged_line_is_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = RunFolder(tmp_path)
    good = cell_record("s/py3.11/pip24.0/pip")
    folder.append(good)
    with (tmp_path / "results.jsonl").open("a") as fh:
        fh.write('{"cell": "s/py3.12/pip24.0/pip", "verd')  # a crash in the middle of a write
    damaged: list[str] = []
    assert folder.records(damaged=damaged) == [good]
    assert damaged == [f"{tmp_path / 'results.jsonl'}:2: damaged record skipped"]
    assert main(["table", str(tmp_path)]) == 0
    assert "damaged record skipped" in capsys.readouterr().err


def test_repeats_that_disagree_are_flaky() -> None:
    base = cell_record(verdict="broke", match=True, reasons=("x",))
    assert combine_repeats([base, base]).verdict == "broke"
    flaky = combine_repeats([base, dataclasses.replace(base, verdict="held")])
    assert (flaky.verdict, flaky.match, flaky.repeats) == ("flaky", False, ("broke", "held"))


# -- hostile and broken input -----------------------------------------------------------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
documents = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=30,
)
KEYS = ["name", "summary", "references", "project", "contamination", "action", "expect", "timeout", "pip", "verdict"]


def _mutate(doc: Any, rnd: random.Random, depth: int = 0) -> Any:
    """Drop, retype or add keys and items anywhere in a real scenario document."""
    if isinstance(doc, dict) and doc:
        doc = dict(doc)
        key = rnd.choice(sorted(doc))
        action = rnd.randrange(4)
        if action == 0:
            del doc[key]
        elif action == 1:
            doc[key] = rnd.choice([None, 3, "x", [], {}, [1, {"a": None}], "../../etc/passwd", "{bad}"])
        elif action == 2:
            doc[rnd.choice(KEYS) + rnd.choice(["", "s", "_"])] = rnd.choice([1, "y", None])
        else:
            doc[key] = _mutate(doc[key], rnd, depth + 1)
    elif isinstance(doc, list) and doc:
        doc = list(doc)
        i = rnd.randrange(len(doc))
        doc[i] = _mutate(doc[i], rnd, depth + 1) if rnd.random() < 0.5 else rnd.choice([None, 7, "z", {"k": 1}])
    elif isinstance(doc, str):
        doc = rnd.choice(["", doc[::-1], doc + "{", "/abs", "<<1", ">=1,<", "a" * 300])
    return doc


MUTATIONS_TRIED: list[int] = []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_random_documents_never_crash_the_loaders(doc: Any, tmp_path: Path) -> None:
    for loader, name in ((load_scenario, "demo.yaml"), (load_matrix, "matrix.yaml")):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc))
        try:
            loader(path)
        except ConfigError as exc:
            assert exc.message.startswith(f"{path}: ")
            assert "\n" not in exc.message


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.sampled_from(sorted(p.name for p in SCENARIOS.glob("*.yaml"))))
def test_mutated_scenarios_fail_with_file_and_key(seed: int, which: str, tmp_path: Path) -> None:
    rnd = random.Random(seed)
    doc = yaml.safe_load((SCENARIOS / which).read_text())
    for _ in range(rnd.randint(1, 3)):
        doc = _mutate(doc, rnd)
    path = tmp_path / which
    path.write_text(yaml.safe_dump(doc))
    MUTATIONS_TRIED.append(seed)
    try:
        load_scenario(path)
    except ConfigError as exc:
        assert exc.message.startswith(f"{path}: ")
        assert "key '" in exc.message or "top level" in exc.message or "not valid YAML" in exc.message
        assert "\n" not in exc.message


def test_cli_turns_mutations_into_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_repo_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    rnd = random.Random(7)
    original = yaml.safe_load((SCENARIOS / "metapath.yaml").read_text())
    failures = 0
    for _ in range(60):
        doc = _mutate(original, rnd)
        (tmp_path / "scenarios/metapath.yaml").write_text(yaml.safe_dump(doc))
        try:
            load_scenario(tmp_path / "scenarios/metapath.yaml")
            continue  # a harmless mutation (a changed summary): nothing to check here
        except ConfigError:
            failures += 1
        assert main(["run", "--scenario", "metapath", "--engine", "local"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].startswith("isolation-harness: error: scenarios/metapath.yaml: ")
    assert failures > 30


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        "x: " + "y" * 1_100_000,
        "- &a [*a, *a]\n",
        "!!python/object:os.system {}",
    ],
)
def test_huge_deep_or_unsafe_yaml_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert info.value.message.startswith(f"{path}: ")


# -- interruption ---------------------------------------------------------------------------------
def _interrupted_run(
    tmp_path: Path, sig: int, delay: float, engine: str, pips: Sequence[str] = PIPS
) -> tuple[int, Path, Path]:
    copy_repo_inputs(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = ["run", "--scenario", "metapath", "--engine", engine, "--python", PY, "--jobs", "2", "--out", "results"]
    for pip in pips:
        args += ["--pip", pip]
    env = {**os.environ, "TMPDIR": str(tmp), "CI": "true"}
    # As in a terminal: a suite started in the background (`cmd &`) has SIGINT ignored, which a child
    # inherits, and Python then never turns it into KeyboardInterrupt. A handled signal is reset to its
    # default in the child, so handle it here while the child starts.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "isolation_harness", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    time.sleep(delay)
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    (run_dir,) = (tmp_path / "results").iterdir()
    return proc.returncode, run_dir, tmp


def _check_nothing_left(run_dir: Path, tmp: Path) -> list[str]:
    lines = (run_dir / "results.jsonl").read_text().splitlines() if (run_dir / "results.jsonl").exists() else []
    records = [json.loads(line) for line in lines]  # every line whole
    cells = {r["cell"].replace("/", "__") for r in records}
    left = {p.name for p in (run_dir / "cells").iterdir()} if (run_dir / "cells").exists() else set()
    assert left <= cells  # no folder of a cell that has no record
    assert [p.name for p in tmp.iterdir() if p.name.startswith("ih-cell-")] == []
    assert not list(run_dir.rglob("*.tmp"))
    return [r["cell"] for r in records]


# Fixed "random" points so a failure replays: early (planning), during the first cells, near the end.
POINTS = [(signal.SIGINT, 1.5), (signal.SIGTERM, 6.0), (signal.SIGINT, 9.0), (signal.SIGTERM, 13.0)]


@pytest.mark.engine
@pytest.mark.parametrize(("sig", "delay"), POINTS, ids=[f"{s.name}@{d}s" for s, d in POINTS])
def test_interrupt_keeps_records_leaves_nothing_and_resume_completes(
    tmp_path: Path, sig: signal.Signals, delay: float
) -> None:
    code, run_dir, tmp = _interrupted_run(tmp_path, sig, delay, "local")
    # Three warm local cells can all finish within 9 s on a fast machine (measured: CI exit 0 at 9.0 s,
    # and once -2: the signal came while the finished run's interpreter was shutting down): only the
    # earlier points are sure to interrupt a running cell. What follows checks the state either way.
    assert code == 130 if delay <= 6 else code in (130, 0, -sig), code
    before = _check_nothing_left(run_dir, tmp) if code == 130 else []
    resumed = harness(
        ["run", "--resume", str(run_dir), "--engine", "local"], cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp)}
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = _check_nothing_left(run_dir, tmp)
    assert sorted(after) == sorted(f"metapath/py{PY}/pip{p}/pip" for p in PIPS)
    assert after[: len(before)] == before  # what was recorded before the interrupt is kept as it was


@pytest.mark.engine
@pytest.mark.docker
def test_interrupted_docker_run_leaves_no_container(tmp_path: Path) -> None:
    require_engine("docker", daemon_answers())
    # Seven cells on two jobs: planning no longer reads pip wheels again and again (issue 19), and three
    # warm docker cells once finished within the 8 s before the signal (exit 0).
    code, run_dir, tmp = _interrupted_run(tmp_path, signal.SIGTERM, 8.0, "docker", DOCKER_PIPS)
    assert code == 130
    _check_nothing_left(run_dir, tmp)
    engine = DockerEngine()
    assert engine.client.containers.list(all=True, filters={"label": LABEL_CELL}) == []


# -- time limits, flakes, determinism ------------------------------------------------------------------
@pytest.mark.engine
def test_cli_timeout_overrides_scenario_limit(tmp_path: Path) -> None:
    hang_scenario(tmp_path, timeout=600)
    (tmp_path / "matrix.yaml").write_text(
        re.sub(
            r"(?m)^modes: .*$",
            "modes: [default]",
            re.sub(r"(?m)^frontends: .*$", "frontends: [pip]", (ROOT / "matrix.yaml").read_text()),
        )
    )
    start = time.monotonic()
    proc = harness(f"run --scenario hang --engine local --python {PY} --pip 24.0 --timeout 5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the scenario expects `timeout`
    assert "hang/py3.11/pip24.0/pip: timeout" in proc.stderr
    assert time.monotonic() - start < 60


@pytest.mark.engine
def test_repeat_marks_a_flaky_cell(tmp_path: Path) -> None:
    """A contamination that breaks only the first experiment it meets (a marker file outside the cell,
    which only the local engine lets it reach): the first repeat breaks, the second does not."""
    marker = tmp_path / "marker"
    copy_repo_inputs(tmp_path)
    # Only pip processes count (sys.orig_argv, 3.10+): the harness's own check that the contamination
    # took effect starts the host interpreter too.
    line = (
        f"import os, sys; p = {str(marker)!r}; "
        "'pip' in sys.orig_argv and not os.path.exists(p) and (open(p, 'w').close(), os._exit(3))"
    )
    text = (
        (SCENARIOS / "vcs-target.yaml")
        .read_text()
        .replace(
            "contamination:\n",
            "contamination:\n  - pth:\n      name: flip.pth\n      lines:\n        - " + json.dumps(line) + "\n",
        )
    )
    (tmp_path / "scenarios/vcs-target.yaml").write_text(text)
    proc = harness(f"run --scenario vcs-target --engine local --python {PY} --pip 24.3.1 --repeat 2", cwd=tmp_path)
    (run_dir,) = (tmp_path / "results").iterdir()
    (record,) = RunFolder(run_dir).records()
    assert record.repeats == ("broke", "leaked"), proc.stderr
    assert record.verdict == "flaky"
    assert "verdicts differ between 2 repeats: broke, leaked" in record.reasons[0]
    assert proc.returncode == 1


@pytest.mark.engine
def test_same_matrix_twice_gives_identical_verdicts(tmp_path: Path) -> None:
    copy_repo_inputs(tmp_path)
    verdicts = []
    pips = " ".join(f"--pip {pip}" for pip in ("19.3.1", "24.0", "25.0"))
    for attempt in range(2):
        harness(
            f"run --scenario metapath --engine local --python 3.8 --python {PY} {pips} --out r{attempt}", cwd=tmp_path
        )
        (run_dir,) = (tmp_path / f"r{attempt}").iterdir()
        verdicts.append(
            {
                r.cell: (
                    r.verdict,
                    r.control and r.control.facts.exit_code,
                    r.experiment and r.experiment.facts.backend_in_backend_path,
                )
                for r in RunFolder(run_dir).records()
            }
        )
    assert len(verdicts[0]) == 6
    assert verdicts[0] == verdicts[1]
