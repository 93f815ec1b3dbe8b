"""Reports from records: the terminal table, a Markdown matrix, JUnit XML and a self-contained HTML page.

All of them are pure functions of the records (plus the run folder for logs), so a report can be
written again at any time from ``results.jsonl``.
"""

from __future__ import annotations

import html
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.version import Version

from isolation_harness import frontends
from isolation_harness.record import CellRecord, RunRecord

SHORT = {
    "held": "held",
    "leaked": "LEAKED",
    "broke": "BROKE",
    "unsupported": "unsup",
    "not-applicable": "n/a",
    "timeout": "TIMEOUT",
    "error": "ERROR",
    "flaky": "FLAKY",
}
GLYPH = {
    "held": "✅",
    "leaked": "💧",
    "broke": "💥",
    "unsupported": "⛔",
    "not-applicable": "·",
    "timeout": "⏱️",
    "error": "⚠️",
    "flaky": "🎲",
}
COLOUR = {
    "held": "#2e7d32",
    "leaked": "#f9a825",
    "broke": "#c62828",
    "unsupported": "#757575",
    "not-applicable": "#e0e0e0",
    "timeout": "#6a1b9a",
    "error": "#000000",
    "flaky": "#0277bd",
}
STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub's cap on $GITHUB_STEP_SUMMARY
RUNS = ("control", "experiment")
# What report.html shows of each cell above its runs.
FACTS_SHOWN = ("verdict", "expected", "match", "reasons", "python", "pip", "engine", "artifacts")


Grid = tuple[list[str], list[str], dict[tuple[str, str], CellRecord]]


def _groups(records: Iterable[CellRecord]) -> dict[tuple[str, str], Grid]:
    by: dict[tuple[str, str], list[CellRecord]] = {}
    for record in records:
        by.setdefault((record.scenario, record.frontend), []).append(record)
    out: dict[tuple[str, str], Grid] = {}
    for key, items in sorted(by.items()):
        pips = sorted({r.pip.version for r in items}, key=Version)
        pythons = sorted({r.python for r in items}, key=Version)
        out[key] = (pythons, pips, {(r.python, r.pip.version): r for r in items})
    return out


def verdict_table(records: Sequence[CellRecord]) -> str:
    """A plain-text table (readable in CI logs): a '!' marks a verdict that differs from expected."""
    blocks = []
    for (scenario, frontend), (pythons, pips, grid) in _groups(records).items():
        header = ["python"] + [f"pip {p}" for p in pips]
        rows = []
        for py in pythons:
            row = [py]
            for pip in pips:
                rec = grid.get((py, pip))
                text = "" if rec is None else SHORT.get(rec.verdict, rec.verdict)
                row.append(text + ("" if rec is None or rec.match else "!"))
            rows.append(row)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [f"{scenario} ({frontend})"]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
        mismatched = [r for r in grid.values() if not r.match]
        lines.append(
            f"{len(grid)} cells, {len(mismatched)} unexpected"
            + "".join(f"\n  ! {r.cell}: {r.verdict}, expected {r.expected}" for r in mismatched)
        )
        blocks.append("\n".join(lines))
    compared = frontends_text(records)
    return "\n\n".join(blocks + ([compared] if compared else []))


FAILED = ("broke", "leaked")


def compare_frontends(records: Iterable[CellRecord]) -> list[tuple[str, str, int, int]]:
    """Per scenario and frontend other than pip: of the cells where pip's default isolation broke or
    leaked, how many this frontend also ran (same Python and pip column), and in how many it held."""
    verdicts: dict[tuple[str, str, str, str], str] = {
        (r.scenario, r.frontend, r.python, r.pip.version): r.verdict for r in records
    }
    rows = []
    for scenario, frontend in sorted({(s, f) for s, f, _, _ in verdicts if f != frontends.DEFAULT}):
        ran = held = 0
        for (s, f, py, pip), verdict in verdicts.items():
            if s == scenario and f == frontends.DEFAULT and verdict in FAILED:
                other = verdicts.get((scenario, frontend, py, pip))
                if other is not None and other != "not-applicable":
                    ran += 1
                    held += other == "held"
        if ran:
            rows.append((scenario, frontend, ran, held))
    return rows


def frontends_text(records: Iterable[CellRecord]) -> str:
    """Which frontend or mode holds where pip's default does not, one line per scenario."""
    by: dict[str, list[str]] = {}
    for scenario, frontend, ran, held in compare_frontends(records):
        by.setdefault(scenario, []).append(f"{frontend} held in {held} of {ran}")
    if not by:
        return ""
    lines = ["Frontends where pip's default isolation broke or leaked (same Python and pip):"]
    lines.extend(f"  {scenario}: {', '.join(parts)}" for scenario, parts in sorted(by.items()))
    return "\n".join(lines)


def cell_line(record: CellRecord, done: int, total: int) -> str:
    mark = "" if record.match else f"  (UNEXPECTED, expected {record.expected})"
    return f"[{done}/{total}] {record.cell}: {record.verdict}{mark} {record.duration:.1f}s"


# -- Markdown --------------------------------------------------------------------------------------
def markdown(records: Sequence[CellRecord]) -> str:
    """Per scenario: Python rows, pip columns, one glyph per verdict; ❗ marks an unexpected verdict."""
    parts = ["# isolation-harness results", ""]
    legend = ", ".join(f"{GLYPH[v]} {v}" for v in GLYPH)
    parts += [f"Legend: {legend}, ❗ differs from the scenario's expectation", ""]
    for (scenario, frontend), (pythons, pips, grid) in _groups(records).items():
        parts.append(f"## {scenario} ({frontend})")
        parts.append("")
        parts.append("| python | " + " | ".join(f"pip {p}" for p in pips) + " |")
        parts.append("|---|" + "---|" * len(pips))
        for py in pythons:
            cells = []
            for pip in pips:
                rec = grid.get((py, pip))
                if rec is None:
                    cells.append("")
                else:
                    cells.append(f"{GLYPH.get(rec.verdict, '?')} {rec.verdict}" + ("" if rec.match else " ❗"))
            parts.append(f"| {py} | " + " | ".join(cells) + " |")
        unexpected = [r for r in grid.values() if not r.match]
        parts.append("")
        parts.append(f"{len(grid)} cells, {len(unexpected)} unexpected.")
        for rec in unexpected:
            parts.append(f"- ❗ `{rec.cell}`: {rec.verdict}, expected {rec.expected}: {'; '.join(rec.reasons)}")
        parts.append("")
    compared = compare_frontends(records)
    if compared:
        parts += ["## Frontends compared", "", "Of the cells where pip's default isolation broke or leaked:", ""]
        parts += ["| scenario | frontend | held | of |", "|---|---|---|---|"]
        parts += [f"| {s} | {f} | {held} | {ran} |" for s, f, ran, held in compared]
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
    """One test case per cell; an unexpected verdict is a failure carrying the probe facts."""
    suites = ET.Element("testsuites", name="isolation-harness")
    for (scenario, frontend), (_pythons, _pips, grid) in _groups(records).items():
        items = list(grid.values())
        failures = sum(1 for r in items if not r.match)
        skipped = sum(1 for r in items if r.verdict == "not-applicable")
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{scenario}[{frontend}]",
            tests=str(len(items)),
            failures=str(failures),
            skipped=str(skipped),
            time=f"{sum(r.duration for r in items):.3f}",
        )
        for rec in sorted(items, key=lambda r: r.cell):
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{scenario}.{frontend}",
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
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


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


# -- HTML ------------------------------------------------------------------------------------------
def _ink(verdict: str) -> str:
    return "#000" if verdict in ("leaked", "not-applicable") else "#fff"


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table.matrix { border-collapse: collapse; margin: .5em 0 1.5em; }
table.matrix th, table.matrix td { border: 1px solid #ccc; padding: .3em .6em; text-align: center; }
td.cell a { color: inherit; text-decoration: none; display: block; }
td.unexpected { outline: 3px solid #d50000; outline-offset: -3px; }
details.cell { border: 1px solid #ddd; margin: .4em 0; padding: .3em .6em; }
details.cell pre { background: #f6f6f6; padding: .5em; overflow-x: auto; max-height: 30em; }
.legend span { display: inline-block; padding: .1em .5em; margin-right: .3em; }
""" + "".join(
    f"td.verdict-{v}, .legend .verdict-{v} {{ background: {c}; color: {_ink(v)}; }}\n" for v, c in COLOUR.items()
)

# Marks every cell with the colour the browser really rendered, so a test in a real browser can check it.
_SCRIPT = """
document.querySelectorAll('td.cell').forEach(function (td) {
  td.setAttribute('data-rendered-colour', getComputedStyle(td).backgroundColor);
});
document.body.setAttribute('data-rendered', 'yes');
"""


def html_page(records: Sequence[CellRecord], run_dir: Path, *, max_log: int = 200_000) -> str:
    """A self-contained page: the coloured matrix, then each cell's facts, logs, versions and repro command."""
    esc = html.escape
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>", "<title>isolation-harness results</title>"]
    out.append(f"<style>{_CSS}</style></head><body>")
    run_ids = sorted({r.run_id for r in records})
    out.append(f"<h1>isolation-harness results</h1><p>run {esc(', '.join(run_ids))}: {len(records)} cells</p>")
    out.append("<p class='legend'>" + "".join(f"<span class='verdict-{v}'>{v}</span>" for v in COLOUR) + "</p>")
    for (scenario, frontend), (pythons, pips, grid) in _groups(records).items():
        out.append(f"<h2>{esc(scenario)} ({esc(frontend)})</h2><table class='matrix'><tr><th>python</th>")
        out.extend(f"<th>pip {esc(p)}</th>" for p in pips)
        out.append("</tr>")
        for py in pythons:
            out.append(f"<tr><th>{esc(py)}</th>")
            for pip in pips:
                rec = grid.get((py, pip))
                if rec is None:
                    out.append("<td></td>")
                    continue
                classes = f"cell verdict-{rec.verdict}" + ("" if rec.match else " unexpected")
                title = f"{rec.verdict} (expected {rec.expected})"
                out.append(
                    f"<td class='{classes}' data-cell='{esc(rec.cell)}' title='{esc(title)}'>"
                    f"<a href='#{_anchor(rec)}'>{esc(SHORT.get(rec.verdict, rec.verdict))}</a></td>"
                )
            out.append("</tr>")
        out.append("</table>")
    compared = compare_frontends(records)
    if compared:
        out.append("<h2>Frontends compared</h2><p>Of the cells where pip's default isolation broke or leaked:</p>")
        out.append("<table class='frontends'><tr><th>scenario</th><th>frontend</th><th>held</th><th>of</th></tr>")
        out.extend(
            f"<tr><td>{esc(s)}</td><td>{esc(f)}</td><td>{held}</td><td>{ran}</td></tr>" for s, f, ran, held in compared
        )
        out.append("</table>")
    out.append("<h2>Cells</h2>")
    for rec in sorted(records, key=lambda r: r.cell):
        out.append(_cell_details(rec, run_dir, max_log))
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out)


def _anchor(rec: CellRecord) -> str:
    return "cell-" + "".join(ch if ch.isalnum() else "-" for ch in rec.cell)


def _as_written(value: Any) -> Any:
    """A record's JSON as results.jsonl holds it: the page shows facts with the keys in that order."""
    return json.loads(json.dumps(value, sort_keys=True))


def _cell_details(rec: CellRecord, run_dir: Path, max_log: int) -> str:
    esc = html.escape
    written = _as_written(rec.to_json())
    facts = {k: written[k] for k in FACTS_SHOWN}
    parts = [
        f"<details class='cell' id='{_anchor(rec)}'><summary><b>{esc(rec.cell)}</b>: {esc(rec.verdict)}"
        + ("" if rec.match else f" (expected {esc(str(rec.expected))})")
        + "</summary>",
        f"<p>reproduce: <code>isolation-harness repro {esc(str(run_dir))} {esc(rec.cell)} &gt; repro.sh</code></p>",
        f"<pre>{esc(json.dumps(facts, indent=1))}</pre>",
    ]
    for name in RUNS:
        run = rec.run(name)
        if run is not None:
            parts.extend(_run_details(name, run, run_dir, max_log))
    parts.append("</details>")
    return "\n".join(parts)


def _run_details(name: str, run: RunRecord, run_dir: Path, max_log: int) -> list[str]:
    esc = html.escape
    shown = {k: v for k, v in _as_written(run.to_json()).items() if k not in ("log", "probe_dir")}
    parts = [f"<h4>{name}</h4><pre>{esc(json.dumps(shown, indent=1))}</pre>"]
    log = run_dir / run.log
    if log.is_file():
        text = log.read_text(errors="replace")
        if len(text) > max_log:
            text = text[:max_log] + "\n[... cut ...]"
        parts.append(f"<details><summary>{name} log</summary><pre>{esc(text)}</pre></details>")
    return parts


def write_reports(records: Sequence[CellRecord], run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write report.md, junit.xml and report.html (each atomically) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in (
        ("report.md", markdown(records)),
        ("junit.xml", junit(records)),
        ("report.html", html_page(records, run_dir)),
    ):
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written[name] = path
    return written
