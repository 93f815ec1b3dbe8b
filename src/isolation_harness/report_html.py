"""report.html: a self-contained page of a run, the matrix coloured as the verdicts, each cell's facts
and logs below it (a cell of the matrix links to them by its id, which carries the cell's label).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isolation_harness.changes import Axis
from isolation_harness.record import CellRecord, RunRecord
from isolation_harness.report_layout import COLOUR, SHORT, Table, compare_frontends, tables

RUNS = ("control", "experiment")
# What report.html shows of each cell above its runs.
FACTS_SHOWN = (
    *("verdict", "expected", "match", "reasons", "python", "pip"),
    *("frontend", "mode", "frontend_release", "frontend_version", "engine", "artifacts"),
)


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


def html_page(
    records: Sequence[CellRecord], run_dir: Path, *, max_log: int = 200_000, axes: Sequence[Axis] = ()
) -> str:
    """A self-contained page: the coloured matrix, then each cell's facts, logs, versions and repro command."""
    esc = html.escape
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>", "<title>isolation-harness results</title>"]
    out.append(f"<style>{_CSS}</style></head><body>")
    run_ids = sorted({r.run_id for r in records})
    out.append(f"<h1>isolation-harness results</h1><p>run {esc(', '.join(run_ids))}: {len(records)} cells</p>")
    out.append("<p class='legend'>" + "".join(f"<span class='verdict-{v}'>{v}</span>" for v in COLOUR) + "</p>")
    for table in tables(records):
        out.extend(_matrix(table))
    compared = compare_frontends(records)
    if compared:
        out.append("<h2>Frontends compared</h2><p>Of the cells where pip's default isolation broke or leaked:</p>")
        out.append("<table class='frontends'><tr><th>scenario</th><th>frontend</th><th>held</th><th>of</th></tr>")
        out.extend(
            f"<tr><td>{esc(s)}</td><td>{esc(f)}</td><td>{held}</td><td>{ran}</td></tr>" for s, f, ran, held in compared
        )
        out.append("</table>")
    if axes:
        out.extend(_axes(axes))
    out.append("<h2>Cells</h2>")
    for rec in sorted(records, key=lambda r: r.cell):
        out.append(_cell_details(rec, run_dir, max_log))
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out)


def _axes(axes: Sequence[Axis]) -> list[str]:
    """Each pip axis as a strip, one box per release: measured ones filled with their verdict, the
    releases between two equal verdicts faded (assumed), each change's first release named."""
    esc = html.escape
    out = ["<h2>Change points along the pip axis</h2>"]
    for axis in axes:
        out.append(f"<h3>{esc(axis.group)}: {len(axis.measured)} of {len(axis.releases)} releases measured</h3>")
        boxes, current = [], ""
        for release in axis.releases:
            verdict = axis.measured.get(release)
            current = verdict or current
            faded = "" if verdict else " style='opacity:.35'"
            boxes.append(
                f"<span class='verdict-{esc(current)}' title='pip {esc(release)}: {esc(current)}"
                f"{'' if verdict else ' (assumed)'}'{faded}>&nbsp;</span>"
            )
        out.append("<p class='axis'>" + "".join(boxes) + "</p><ul>")
        out += [
            f"<li>{esc(c.after)} from pip <b>{esc(c.first_changed)}</b> ({esc(c.last_same)}: {esc(c.before)})"
            f"{esc(axis.said(c))}</li>"
            for c in axis.changes
        ]
        out += [f"<li>no change at pip <b>{esc(r)}</b>, where expect: puts one</li>" for r in axis.refuted]
        out.append("</ul>")
    return out


def _matrix(table: Table) -> list[str]:
    """A scenario's table: a cell links to its details further down the page."""
    esc = html.escape
    out = [f"<h2>{esc(table.scenario)}</h2><table class='matrix'><tr><th>python</th>"]
    out.extend(f"<th>{esc(column.heading)}</th>" for column in table.columns)
    out.append("</tr>")
    for py in table.pythons:
        out.append(f"<tr><th>{esc(py)}</th>")
        for column in table.columns:
            rec = column.cells.get(py)
            if rec is None:
                out.append("<td></td>")
                continue
            classes = f"cell verdict-{rec.verdict}" + ("" if rec.match else " unexpected")
            title = f"{rec.label}: {rec.verdict} (expected {rec.expected})"
            out.append(
                f"<td class='{classes}' data-cell='{esc(rec.cell)}' title='{esc(title)}'>"
                f"<a href='#{_anchor(rec)}'>{esc(SHORT.get(rec.verdict, rec.verdict))}</a></td>"
            )
        out.append("</tr>")
    out.append(f"</table><p>{esc(table.counts())}</p>")
    return out


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
