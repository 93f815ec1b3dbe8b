"""Every report, byte for byte as the code before the typed records (issue 15) wrote it.

The records are read through ``CellRecord`` now; the texts must not change. Each case is a run folder
of fixed records (``tests/data/reports/*.jsonl``: synthetic records of every verdict, and the golden
records of real cells) with fixed logs; its outputs (verdict table, report.md, junit.xml, report.html,
the progress lines, compare's text) must equal the ones under ``tests/data/reports/expected/``, which
the old ``report.py`` and ``compare.py`` (of a3dcb9f, reading records as dicts) wrote from the same
run folders. They were made once, and are not to be made again from new code:

    git show a3dcb9f:src/isolation_harness/report.py > OLD/report.py   (and compare.py)
    python -m tests.test_reports_unchanged OLD

The golden case's report.html files are kept as their sha256 (each is half a megabyte), and so is the
synthetic one with cut logs; the synthetic report.html, kept whole, shows a difference line by line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from isolation_harness import compare, report
from isolation_harness.progress import Progress
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder

from . import golden_records

DATA = Path(__file__).parent / "data" / "reports"
EXPECTED = DATA / "expected"
HASHED = {("golden", "report.html"), ("golden", "report-cut.html"), ("synthetic", "report-cut.html")}
ONLY = {"synthetic-one-pip": ("table.txt", "compare.txt")}  # a case for compare across pips
CUT = 300  # report-cut.html: the logs cut at this many characters


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _golden() -> list[dict[str, Any]]:
    """The golden records, with what normalising them dropped put back (fixed values)."""
    records = []
    for n, kept in enumerate(sorted(golden_records.load().values(), key=lambda r: (r["golden_group"], r["cell"]))):
        data = {**kept, "run_id": f"golden-{kept['golden_group']}", "started": "", "finished": ""}
        data["duration"] = round(n * 1.37 % 50, 3)
        image = data["engine"]["image"]
        data["engine"] = {
            **data["engine"],
            "image_id": "sha256:" + hashlib.sha256(image.encode()).hexdigest() if image else None,
        }
        for name in ("control", "experiment"):
            if data[name]:
                data[name] = {**data[name], "duration": round(n * 0.61 % 20, 2)}
        records.append(data)
    return records


def _flipped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Another run of the same cells: every third verdict moved along, every seventh cell missing."""
    turn = {"held": "leaked", "leaked": "broke", "broke": "held", "unsupported": "error", "not-applicable": "held"}
    out = []
    for n, data in enumerate(records):
        if n % 7 == 6:
            continue
        out.append({**data, "verdict": turn[data["verdict"]]} if n % 3 == 0 else data)
    return out


def _pip(records: list[dict[str, Any]], pip: str) -> list[dict[str, Any]]:
    return [r for r in records if r["pip"]["version"] == pip]


def cases() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each case: the records of a run folder, and those of the run compare sets against it."""
    base, candidate, golden = _jsonl(DATA / "base.jsonl"), _jsonl(DATA / "candidate.jsonl"), _golden()
    return {
        "synthetic": (base, candidate),
        "synthetic-one-pip": (_pip(base, "24.3.1"), _pip(candidate, "25.0")),
        "golden": (golden, _flipped(golden)),
    }


def _log_text(cell: str, name: str) -> str:
    line = "<b>built & 'checked' \"here\"</b>\n"
    return f"{name} log of {cell}\n" + line * (len(cell) % 11 + 1)


def write_run(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """A run folder as the harness leaves it: results.jsonl (keys sorted, as always written) and logs."""
    run_dir.mkdir(parents=True)
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    (run_dir / "results.jsonl").write_text(lines)
    for data in records:
        for name in ("control", "experiment"):
            if data.get(name) and data[name].get("log"):
                log = run_dir / data[name]["log"]
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(_log_text(data["cell"], name))


def render(
    report_module: ModuleType, compare_module: ModuleType, base: list[Any], candidate: list[Any], run_dir: Path
) -> dict[str, str]:
    """Every output of the records: the old modules take them as dicts, the new ones as CellRecords."""
    out = run_dir.parent / "reports"
    written = report_module.write_reports(base, run_dir, out)
    texts = {name: path.read_text(encoding="utf-8") for name, path in written.items()}
    texts["report-cut.html"] = report_module.html_page(base, run_dir, max_log=CUT)
    texts["table.txt"] = report_module.verdict_table(base)
    texts["progress.txt"] = "\n".join(report_module.cell_line(r, n, len(base)) for n, r in enumerate(base, 1))
    texts["compare.txt"] = compare_module.render(*compare_module.compare(base, candidate))
    return {name: text.replace(str(run_dir), "RUN_DIR") for name, text in texts.items()}


def _new_outputs(case: str, tmp: Path) -> dict[str, str]:
    base, candidate = cases()[case]
    write_run(tmp / "run", base)
    records = RunFolder.existing(tmp / "run").records()
    others = [CellRecord.from_json(json.loads(json.dumps(r, sort_keys=True))) for r in candidate]
    outputs = render(report, compare, records, others, tmp / "run")
    return {name: text for name, text in outputs.items() if name in ONLY.get(case, outputs)}


@pytest.mark.parametrize("case", ["synthetic", "synthetic-one-pip", "golden"])
def test_every_output_is_unchanged(case: str, tmp_path: Path) -> None:
    outputs = _new_outputs(case, tmp_path)
    assert sorted(outputs) == sorted(p.name.removesuffix(".sha256") for p in (EXPECTED / case).iterdir())
    for name, text in outputs.items():
        if (case, name) in HASHED:
            digest = (EXPECTED / case / f"{name}.sha256").read_text().strip()
            assert hashlib.sha256(text.encode()).hexdigest() == digest, f"{case}/{name} differs"
        else:
            assert text == (EXPECTED / case / name).read_text(encoding="utf-8"), f"{case}/{name} differs"


def test_the_cases_show_what_they_must(tmp_path: Path) -> None:
    # Cases of one verdict, without unexpected cells or log cuts, would show little.
    base, candidate = cases()["synthetic"]
    assert {r["verdict"] for r in base} >= {
        "held",
        "leaked",
        "broke",
        "unsupported",
        "not-applicable",
        "timeout",
        "error",
        "flaky",
    }
    assert {r["frontend"] for r in base} == {"pip", "pip-venv", "build", "uv"}
    assert any(not r["match"] for r in base)
    assert any(isinstance(r["pip"]["source"], dict) for r in base)
    compared = (EXPECTED / "synthetic" / "compare.txt").read_text()
    assert "Regressions: 0" not in compared
    assert "Fixes: 0" not in compared
    assert "Cells in only one run" in compared
    assert "Regressions: 0" not in (EXPECTED / "synthetic-one-pip" / "compare.txt").read_text()
    assert len(candidate) > 0
    outputs = _new_outputs("synthetic", tmp_path)
    assert "[... cut ...]" in outputs["report-cut.html"]
    assert "[... cut ...]" not in outputs["report.html"]


def test_progress_prints_the_cell_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base, _ = cases()["synthetic"]
    record = CellRecord.from_json(base[0])
    progress = Progress(3, live=False)
    progress.cell_done(record, 1, 3)
    progress.close()
    line = capsys.readouterr().err
    assert line.startswith(report.cell_line(record, 1, 3) + " (elapsed ")
    expected = (EXPECTED / "synthetic" / "progress.txt").read_text().splitlines()[0]
    assert report.cell_line(record, 1, len(base)) == expected


# -- making the data (once; see the module's docstring) ---------------------------------------------
def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write_expected(old: Path) -> None:
    """The outputs of the old report.py and compare.py in ``old``, which read records as dicts."""
    old_report, old_compare = _module(old / "report.py", "old_report"), _module(old / "compare.py", "old_compare")
    for case, (base, candidate) in cases().items():
        with tempfile.TemporaryDirectory() as tmp:
            write_run(Path(tmp) / "run", base)
            read = _jsonl(Path(tmp) / "run" / "results.jsonl")  # as the old read_records did
            others = [json.loads(json.dumps(r, sort_keys=True)) for r in candidate]
            outputs = render(old_report, old_compare, read, others, Path(tmp) / "run")
        (EXPECTED / case).mkdir(parents=True, exist_ok=True)
        for name, text in outputs.items():
            if name not in ONLY.get(case, outputs):
                continue
            if (case, name) in HASHED:
                (EXPECTED / case / f"{name}.sha256").write_text(hashlib.sha256(text.encode()).hexdigest() + "\n")
            else:
                (EXPECTED / case / name).write_text(text, encoding="utf-8")


CANDIDATE_PIP = "25.1.dev0+g1a2b3c4"
CANDIDATE_SOURCE = {"kind": "git", "origin": "git+https://github.com/pypa/pip@main", "commit": "1a2b3c4d5e6f"}
# The synthetic runs: every verdict, unexpected verdicts and no expectation, four frontends, a candidate
# pip (its source a dict), durations to round.
BASE_CELLS: list[dict[str, Any]] = [
    {"python": "3.8", "pip": "19.3.1", "verdict": "unsupported", "duration": 3.333},
    {"python": "3.8", "pip": "23.0.1", "verdict": "broke", "duration": 7.123456},
    {"python": "3.11", "pip": "23.0.1", "verdict": "broke"},
    {"python": "3.11", "pip": "24.3.1", "verdict": "broke", "duration": 100.0},
    {"python": "3.11", "pip": "25.0", "verdict": "leaked", "duration": 0.05},
    {"python": "3.12", "pip": "24.3.1", "verdict": "held", "expected": "broke"},
    {"python": "3.12", "pip": "25.0", "verdict": "timeout", "expected": "leaked", "duration": 481.25},
    {"python": "3.12", "pip": CANDIDATE_PIP, "verdict": "leaked", "pip_source": CANDIDATE_SOURCE},
    {"python": "3.11", "pip": "24.3.1", "frontend": "build", "verdict": "held"},
    {"python": "3.11", "pip": "25.0", "frontend": "build", "verdict": "held"},
    {"python": "3.12", "pip": "24.3.1", "frontend": "build", "verdict": "error", "expected": "held"},
    {"python": "3.11", "pip": "24.3.1", "frontend": "uv", "verdict": "held"},
    {"python": "3.11", "pip": "25.0", "frontend": "uv", "verdict": "broke", "expected": "held"},
    {"python": "3.12", "pip": "24.3.1", "frontend": "uv", "verdict": "not-applicable"},
    {"python": "3.11", "pip": "23.0.1", "frontend": "pip-venv", "verdict": "flaky", "expected": "held"},
    {"scenario_name": "vcs-target", "python": "3.11", "pip": "24.3.1", "verdict": "held"},
    {"scenario_name": "vcs-target", "python": "3.11", "pip": "25.0", "verdict": "broke", "duration": 2.5},
    {"scenario_name": "vcs-target", "python": "3.8", "pip": "19.3.1", "verdict": "not-applicable"},
    {"scenario_name": "vcs-target", "python": "3.11", "pip": "23.0.1", "verdict": "held", "expected": None},
    {"scenario_name": "distutils-hack", "python": "3.11", "pip": "24.3.1", "verdict": "broke"},
    {"scenario_name": "distutils-hack", "python": "3.12", "pip": "25.0", "verdict": "held"},
    {"scenario_name": "vcs-target", "python": "3.12", "pip": "25.0", "verdict": "leaked", "expected": "held"},
]
# The candidate run: its verdicts where they differ (regressions, fixes, other changes), a cell fewer
# (10) and one more.
CHANGED = {
    1: "held",
    3: "leaked",
    4: "broke",
    6: "leaked",
    11: "broke",
    14: "held",
    16: "held",
    18: "error",
    19: "held",
}
CANDIDATE_CELLS: list[dict[str, Any]] = [
    {**cell, "verdict": CHANGED.get(n, cell["verdict"]), "expected": cell.get("expected", cell["verdict"])}
    for n, cell in enumerate(BASE_CELLS)
    if n != 10
] + [{"scenario_name": "distutils-hack", "python": "3.12", "pip": "24.3.1", "verdict": "leaked"}]


def write_inputs() -> None:
    """base.jsonl and candidate.jsonl, made by records_synthetic (once: they are data now)."""
    from .records_synthetic import RUN_ID, run_folder

    runs = (
        ("base.jsonl", BASE_CELLS, RUN_ID),
        ("candidate.jsonl", CANDIDATE_CELLS, RUN_ID.replace("0a1b2c", "3d4e5f")),
    )
    for name, cells, run_id in runs:
        with tempfile.TemporaryDirectory() as tmp:
            _, records = run_folder(Path(tmp), cells, run_id=run_id)
        (DATA / name).write_text("".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in records))


if __name__ == "__main__":  # python -m tests.test_reports_unchanged inputs | OLD_DIR
    if sys.argv[1] == "inputs":
        write_inputs()
    else:
        write_expected(Path(sys.argv[1]))
