"""Reports from records: the terminal table, a Markdown matrix, JUnit XML and a self-contained HTML page.

All of them are pure functions of the records (plus the run folder for logs), so a report can be
written again at any time from ``results.jsonl``. How the cells are laid out (one table per scenario,
a column per pip release and per other variant that ran) is ``report_layout``; the page is
``report_html``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from isolation_harness.changes import Axis
from isolation_harness.record import CellRecord
from isolation_harness.report_html import RUNS, html_page
from isolation_harness.report_layout import (
    COLOUR,
    FAILED,
    GLYPH,
    SHORT,
    Table,
    compare_frontends,
    frontends_text,
    label_order,
    tables,
)
from isolation_harness.runfolder import RunFolder

__all__ = [
    "COLOUR",
    "FAILED",
    "GLYPH",
    "SHORT",
    "STEP_SUMMARY_LIMIT",
    "append_step_summary",
    "cell_line",
    "compare_frontends",
    "frontends_text",
    "html_page",
    "junit",
    "markdown",
    "verdict_table",
    "write_reports",
]

STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub's cap on $GITHUB_STEP_SUMMARY


def verdict_table(records: Sequence[CellRecord]) -> str:
    """A plain-text table per scenario (readable in CI logs): a '!' marks a verdict that differs from
    expected."""
    blocks = [_text_table(table) for table in tables(records)]
    compared = frontends_text(records)
    return "\n\n".join(blocks + ([compared] if compared else []))


def _text_table(table: Table) -> str:
    header = ["python"] + [column.heading for column in table.columns]
    rows = []
    for py in table.pythons:
        row = [py]
        for column in table.columns:
            rec = column.cells.get(py)
            row.append("" if rec is None else SHORT.get(rec.verdict, rec.verdict) + ("" if rec.match else "!"))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [table.scenario]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    lines.append(table.counts())
    lines.extend(f"  ! {r.cell}: {r.verdict}, expected {r.expected}" for r in table.unexpected)
    return "\n".join(lines)


def cell_line(record: CellRecord, done: int, total: int) -> str:
    """The progress line of a finished cell; an unpinned frontend's line says which release it ran."""
    mark = "" if record.match else f"  (UNEXPECTED, expected {record.expected})"
    version = record.frontend_version
    shown = (
        f" [{record.frontend} {version}]"
        if record.frontend != "pip" and version and not record.frontend_release
        else ""
    )
    return f"[{done}/{total}] {record.cell}{shown}: {record.verdict}{mark} {record.duration:.1f}s"


# -- Markdown --------------------------------------------------------------------------------------
def markdown(records: Sequence[CellRecord], axes: Sequence[Axis] = ()) -> str:
    """Per scenario: Python rows, a column per pip release and variant, one glyph per verdict; ❗ marks an
    unexpected verdict."""
    parts = ["# isolation-harness results", ""]
    legend = ", ".join(f"{GLYPH[v]} {v}" for v in GLYPH)
    parts += [f"Legend: {legend}, ❗ differs from the scenario's expectation", ""]
    for table in tables(records):
        parts += [f"## {table.scenario}", ""]
        parts.append("| python | " + " | ".join(column.heading for column in table.columns) + " |")
        parts.append("|---|" + "---|" * len(table.columns))
        for py in table.pythons:
            cells = []
            for column in table.columns:
                rec = column.cells.get(py)
                mark = "" if rec is None or rec.match else " ❗"
                cells.append("" if rec is None else f"{GLYPH.get(rec.verdict, '?')} {rec.verdict}{mark}")
            parts.append(f"| {py} | " + " | ".join(cells) + " |")
        parts += ["", f"{table.counts()}."]
        for rec in table.unexpected:
            parts.append(f"- ❗ `{rec.cell}`: {rec.verdict}, expected {rec.expected}: {'; '.join(rec.reasons)}")
        parts.append("")
    compared = compare_frontends(records)
    if compared:
        parts += ["## Frontends compared", "", "Of the cells where pip's default isolation broke or leaked:", ""]
        parts += ["| scenario | frontend | held | of |", "|---|---|---|---|"]
        parts += [f"| {s} | {f} | {held} | {ran} |" for s, f, ran, held in compared]
        parts.append("")
    if axes:
        parts += ["## Change points along the pip axis", ""]
        parts += ["| axis | releases | measured | changes |", "|---|---|---|---|"]
        for axis in axes:
            changes = "; ".join(
                [
                    f"{c.after} from **{c.first_changed}** ({c.last_same}: {c.before}){axis.said(c)}"
                    for c in axis.changes
                ]
                + [f"no change at {r}, where expect: puts one" for r in axis.refuted]
            )
            span = f"{axis.releases[0]}..{axis.releases[-1]}"
            parts.append(
                f"| {axis.group} | {span} ({len(axis.releases)}) | {len(axis.measured)} | {changes or 'none'} |"
            )
        parts.append("")
    return "\n".join(parts)


def append_step_summary(text: str, path: str | None = None) -> bool:
    """Append to $GITHUB_STEP_SUMMARY, cut to stay under GitHub's 1 MiB cap; False when unset."""
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    existing = Path(target).stat().st_size if Path(target).exists() else 0
    room = STEP_SUMMARY_LIMIT - existing - 200
    data = text.encode()
    if len(data) > room:
        data = data[: max(room, 0)].decode(errors="ignore").rsplit("\n", 1)[0].encode()
        data += b"\n\n(cut to stay under GitHub's 1 MiB step summary limit; see the HTML report)\n"
    with Path(target).open("ab") as fh:
        fh.write(data)
    return True


# -- JUnit -----------------------------------------------------------------------------------------
def junit(records: Sequence[CellRecord]) -> str:
    """One test suite per scenario and label, one test case per cell; an unexpected verdict is a
    failure carrying the probe facts."""
    suites = ET.Element("testsuites", name="isolation-harness")
    by: dict[tuple[str, str], list[CellRecord]] = {}
    for record in records:
        by.setdefault((record.scenario, record.label), []).append(record)
    for scenario, label in sorted(by, key=lambda k: (k[0], label_order(k[1]))):
        items = sorted(by[scenario, label], key=lambda r: r.cell)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{scenario}[{label}]",
            tests=str(len(items)),
            failures=str(sum(1 for r in items if not r.match)),
            skipped=str(sum(1 for r in items if r.verdict == "not-applicable")),
            time=f"{sum(r.duration for r in items):.3f}",
        )
        for rec in items:
            _testcase(suite, rec)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(suite: ET.Element, rec: CellRecord) -> None:
    # classname: scenario.label, as pip's default cells have always been named (metapath.pip).
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{rec.scenario}.{rec.label}",
        name=f"py{rec.python}-pip{rec.pip.version}",
        time=f"{rec.duration:.3f}",
    )
    if rec.verdict == "not-applicable":
        ET.SubElement(case, "skipped", message="; ".join(rec.reasons))
    elif not rec.match:
        failure = ET.SubElement(
            case, "failure", message=f"verdict {rec.verdict}, expected {rec.expected}", type=rec.verdict
        )
        failure.text = _facts_text(rec)
    ET.SubElement(case, "system-out").text = f"verdict: {rec.verdict}\n" + "\n".join(rec.reasons)


def _facts_text(rec: CellRecord) -> str:
    lines = [f"cell {rec.cell}: {rec.verdict} (expected {rec.expected})", *rec.reasons]
    for name in RUNS:
        run = rec.run(name)
        if run is not None:
            facts = run.facts
            # The lists print as the JSON lists of results.jsonl always printed: [...], not (...).
            lines.append(
                f"{name}: exit {facts.exit_code}, error {facts.error!r}, backend {facts.backend_file!r}, "
                f"in backend-path {facts.backend_in_backend_path}, host finders {list(facts.foreign_finders)}, "
                f"host code ran {list(facts.host_code_ran)}"
            )
    return "\n".join(lines)


def write_reports(records: Sequence[CellRecord], run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write report.md, junit.xml and report.html (each atomically) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    axes = [Axis.from_json(a) for a in RunFolder(run_dir).changes()]
    written = {}
    for name, text in (
        ("report.md", markdown(records, axes)),
        ("junit.xml", junit(records)),
        ("report.html", html_page(records, run_dir, axes=axes)),
    ):
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written[name] = path
    return written
