"""Every report of records written before pip's modes and the frontends' releases were axes (issue 16),
as the current code renders them: old run folders must keep reporting, and a change to any output shows
up here as a diff to review.

Each case is a run folder of fixed records with fixed logs: ``tests/data/reports/base.jsonl`` and
``candidate.jsonl`` (synthetic records of every verdict, made by tests/records_synthetic.py before issue
16: their ``pip-venv`` cells read as pip in mode venv-isolation) and the golden records of real cells
taken before issue 16 (``tests/data/records-before-modes.jsonl``). Those inputs are data: never made
again. Their outputs (verdict table, report.md, junit.xml, report.html, the progress lines, compare's
text) must equal the files under ``tests/data/reports/expected/``, which the current ``report.py`` and
``compare.py`` wrote. After an intended change to a report, write them again and review the diff:

    python -m tests.test_reports_unchanged

(Until issue 16 they were the byte-for-byte outputs of the code before the typed records, a3dcb9f;
one table per scenario replaced one per scenario and frontend, so they were made again then.)
The golden case's report.html files are kept as their sha256 (each is half a megabyte), and so is the
synthetic one with cut logs; the synthetic report.html, kept whole, shows a difference line by line.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
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
    """The golden records taken before issue 16, with what normalising them dropped put back (fixed
    values)."""
    records = []
    before = _jsonl(golden_records.BEFORE_MODES)
    for n, kept in enumerate(sorted(before, key=lambda r: (r["golden_group"], r["cell"]))):
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


def render(base: list[CellRecord], candidate: list[CellRecord], run_dir: Path) -> dict[str, str]:
    """Every output of the records."""
    out = run_dir.parent / "reports"
    written = report.write_reports(base, run_dir, out)
    texts = {name: path.read_text(encoding="utf-8") for name, path in written.items()}
    texts["report-cut.html"] = report.html_page(base, run_dir, max_log=CUT)
    texts["table.txt"] = report.verdict_table(base)
    texts["progress.txt"] = "\n".join(report.cell_line(r, n, len(base)) for n, r in enumerate(base, 1))
    texts["compare.txt"] = compare.render(*compare.compare(base, candidate))
    return {name: text.replace(str(run_dir), "RUN_DIR") for name, text in texts.items()}


def _outputs(case: str, tmp: Path) -> dict[str, str]:
    """The case's outputs, its records read as a run folder is (RunFolder, CellRecord.from_json)."""
    base, candidate = cases()[case]
    write_run(tmp / "run", base)
    records = RunFolder.existing(tmp / "run").records()
    others = [CellRecord.from_json(json.loads(json.dumps(r, sort_keys=True))) for r in candidate]
    outputs = render(records, others, tmp / "run")
    return {name: text for name, text in outputs.items() if name in ONLY.get(case, outputs)}


@pytest.mark.parametrize("case", ["synthetic", "synthetic-one-pip", "golden"])
def test_every_output_is_as_expected(case: str, tmp_path: Path) -> None:
    outputs = _outputs(case, tmp_path)
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
    outputs = _outputs("synthetic", tmp_path)
    assert "[... cut ...]" in outputs["report-cut.html"]
    assert "[... cut ...]" not in outputs["report.html"]
    # The old pip-venv cells are pip in mode venv-isolation in every output (report.html shows their
    # logs, which name the cell as it was called when it ran).
    assert not [name for name, text in outputs.items() if "pip-venv" in text and not name.endswith(".html")]
    assert "data-cell='metapath/py3.11/pip23.0.1/pip+venv-isolation'" in outputs["report.html"]
    assert "pip 23.0.1 venv-isolation" in outputs["table.txt"]
    assert "metapath/py3.11/pip23.0.1/pip+venv-isolation: flaky" in outputs["progress.txt"]
    assert 'classname="metapath.pip+venv-isolation"' in outputs["junit.xml"]
    # build and uv ran in every pip column then: a column per pip column keeps each cell visible.
    assert "build (pip 24.3.1)" in outputs["table.txt"]
    assert "uv (pip 25.0)" in outputs["table.txt"]


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


# -- writing the expected outputs again (see the module's docstring) ----------------------------------
def write_expected() -> None:
    """The outputs of the current report.py and compare.py, for every case."""
    for case in cases():
        with tempfile.TemporaryDirectory() as tmp:
            outputs = _outputs(case, Path(tmp))
        (EXPECTED / case).mkdir(parents=True, exist_ok=True)
        for old in (EXPECTED / case).iterdir():
            old.unlink()
        for name, text in outputs.items():
            if (case, name) in HASHED:
                (EXPECTED / case / f"{name}.sha256").write_text(hashlib.sha256(text.encode()).hexdigest() + "\n")
            else:
                (EXPECTED / case / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # python -m tests.test_reports_unchanged
    write_expected()
