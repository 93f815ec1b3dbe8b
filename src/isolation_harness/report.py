"""The verdict table printed at the end of a run: per scenario, Python rows and pip columns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from packaging.version import Version

SHORT = {
    "held": "held",
    "leaked": "LEAKED",
    "broke": "BROKE",
    "unsupported": "unsup",
    "not-applicable": "n/a",
    "timeout": "TIMEOUT",
    "error": "ERROR",
}


def verdict_table(records: Iterable[dict[str, Any]]) -> str:
    """A plain-text table (readable in CI logs): a '!' marks a verdict that differs from expected."""
    by_scenario: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        by_scenario.setdefault((record["scenario"], record["frontend"]), []).append(record)
    blocks = []
    for (scenario, frontend), items in sorted(by_scenario.items()):
        pips = sorted({r["pip"]["version"] for r in items}, key=Version)
        pythons = sorted({r["python"]["axis"] for r in items}, key=Version)
        grid = {(r["python"]["axis"], r["pip"]["version"]): r for r in items}
        header = ["python"] + [f"pip {p}" for p in pips]
        rows = []
        for py in pythons:
            row = [py]
            for pip in pips:
                rec = grid.get((py, pip))
                row.append(
                    "" if rec is None else SHORT.get(rec["verdict"], rec["verdict"]) + ("" if rec["match"] else "!")
                )
            rows.append(row)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [f"{scenario} ({frontend})"]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
        mismatched = [r for r in items if not r["match"]]
        lines.append(
            f"{len(items)} cells, {len(mismatched)} unexpected"
            + ("".join(f"\n  ! {r['cell']}: {r['verdict']}, expected {r['expected']}" for r in mismatched))
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def cell_line(record: dict[str, Any], done: int, total: int) -> str:
    mark = "" if record["match"] else f"  (UNEXPECTED, expected {record['expected']})"
    return f"[{done}/{total}] {record['cell']}: {record['verdict']}{mark} {record.get('duration', 0):.1f}s"
