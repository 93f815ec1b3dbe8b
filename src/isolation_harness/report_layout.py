"""How the reports lay a run's cells out: one table per scenario, and the variants compared with pip's
default isolation.

A cell is (scenario, Python, pip, frontend, mode, release). A table per (scenario, frontend, mode,
release) would be a dozen tables per scenario, mostly n/a, so each scenario gets one: Pythons as rows;
pip's releases in its default mode as columns (every one the run has, as the matrix asked for them);
then each other variant where at least one of its cells ran. A pip mode has a column per pip release
(its verdict can change with pip); build and uv run once per Python in the newest pip's column, so
they have a column per release of their own, headed with the exact version installed (an unpinned
``build`` says which build it was). Records of older runs, where build and uv ran in every pip
column, still fit: a variant with two cells that ran for one Python is split by pip column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from isolation_harness import frontends
from isolation_harness.record import CellRecord

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
NA = "not-applicable"
FAILED = ("broke", "leaked")
# What every other variant is compared with: pip as users run it.
PIP_DEFAULT = frontends.label(frontends.DEFAULT)

# A column's place among its variant's: (exact version of a release column, pip column or None).
Slot = tuple[str | None, str | None]


@dataclass(frozen=True)
class Column:
    heading: str  # "pip 26.3", "pip 26.3 venv-isolation", "build 1.4.2"
    cells: dict[str, CellRecord]  # by Python


@dataclass(frozen=True)
class Table:
    scenario: str
    pythons: list[str]
    columns: list[Column]
    records: list[CellRecord]  # every cell of the scenario, shown in a column or not

    @property
    def unexpected(self) -> list[CellRecord]:
        return sorted((r for r in self.records if not r.match), key=lambda r: r.cell)

    @property
    def hidden(self) -> int:
        """Cells no column shows: not-applicable cells of variants that ran nowhere (or elsewhere)."""
        shown = {r.cell for column in self.columns for r in column.cells.values()}
        return sum(1 for r in self.records if r.cell not in shown)

    def counts(self) -> str:
        """``12 cells (3 not-applicable not shown), 1 unexpected``."""
        hidden = f" ({self.hidden} not-applicable not shown)" if self.hidden else ""
        return f"{len(self.records)} cells{hidden}, {len(self.unexpected)} unexpected"


def version_key(text: str | None) -> tuple[int, Version, str]:
    """Sorts versions as versions; what is not one (a candidate's odd label) after them, None first."""
    if text is None:
        return (0, Version("0"), "")
    try:
        return (1, Version(text), text)
    except InvalidVersion:
        return (2, Version("0"), text)


def label_order(label: str) -> tuple[int, str, int, str, tuple[int, Version, str]]:
    """Variants in table order: frontends as the table lists them (pip first), pip's modes in their
    order (default first), releases ascending (an unpinned frontend before its pinned releases)."""
    name, release, mode = frontends.parse_label(label)
    names, modes = frontends.NAMES, frontends.MODE_NAMES
    return (
        names.index(name) if name in names else len(names),
        name,
        modes.index(mode) if mode in modes else len(modes),
        mode,
        version_key(release),
    )


def tables(records: Iterable[CellRecord]) -> list[Table]:
    """One table per scenario, in name order."""
    by: dict[str, list[CellRecord]] = {}
    for record in records:
        by.setdefault(record.scenario, []).append(record)
    out = []
    for scenario, items in sorted(by.items()):
        variants: dict[str, list[CellRecord]] = {}
        for record in sorted(items, key=lambda r: r.cell):
            variants.setdefault(record.label, []).append(record)
        columns = [
            column
            for label in sorted(variants, key=label_order)
            for column in _variant_columns(variants[label], keep_na=label == PIP_DEFAULT)
        ]
        pythons = sorted({r.python for r in items}, key=version_key)
        out.append(Table(scenario, pythons, columns, items))
    return out


def _per_pip(frontend: str) -> bool:
    """Whether the frontend's verdict is one per pip column (pip's modes) or one per Python (build, uv)."""
    known = frontends.FRONTENDS.get(frontend)
    return known is None or not known.newest_pip_only


def _version(record: CellRecord) -> str | None:
    return record.frontend_version or record.frontend_release


def _variant_columns(items: Sequence[CellRecord], *, keep_na: bool) -> list[Column]:
    """The columns of one variant (one label); ``keep_na``: keep a column whose cells are all n/a."""
    first = items[0]
    per_pip = _per_pip(first.frontend)
    ran = [r for r in items if r.verdict != NA]
    # Older runs ran build and uv in every pip column: then one Python has several cells of the same
    # release, and the variant needs a column per pip column to show them all.
    split = per_pip or any(n > 1 for n in Counter((_version(r), r.python) for r in ran).values())
    slots: dict[Slot, dict[str, CellRecord]] = {}
    for record in ran:
        slots.setdefault(_slot(record, per_pip=per_pip, split=split), {})[record.python] = record
    # A Python where the variant ran nowhere shows why: the n/a of its newest pip column.
    for record in sorted((r for r in items if r.verdict == NA), key=lambda r: version_key(r.pip.version), reverse=True):
        for slot in _na_slots(record, slots, per_pip=per_pip, split=split):
            slots.setdefault(slot, {}).setdefault(record.python, record)
    kept = [s for s, cells in slots.items() if keep_na or any(r.verdict != NA for r in cells.values())]
    kept.sort(key=lambda s: (version_key(s[0]), version_key(s[1])))
    return [Column(_heading(first, slot), slots[slot]) for slot in kept]


def _slot(record: CellRecord, *, per_pip: bool, split: bool) -> Slot:
    if per_pip:
        return (None, record.pip.version)
    return (_version(record), record.pip.version if split else None)


def _na_slots(
    record: CellRecord, slots: dict[Slot, dict[str, CellRecord]], *, per_pip: bool, split: bool
) -> list[Slot]:
    """Where a not-applicable cell shows: its own column; for build and uv, each column of its release
    (unpinned: of each release that ran), unless the variant ran for its Python (then it is only the
    column where that Python's cell did not belong)."""
    own = _slot(record, per_pip=per_pip, split=split)
    if per_pip:
        return [own]
    if not split and any(record.python in cells for cells in slots.values()):
        return []
    wanted = _version(record)
    matching = [s for s in slots if wanted in (None, s[0]) and (not split or s[1] == record.pip.version)]
    return matching or [own]


def _heading(record: CellRecord, slot: Slot) -> str:
    version, pip = slot
    if _per_pip(record.frontend):
        text = f"{record.frontend} {pip}"
    else:
        text = record.frontend + (f" {version}" if version else "") + (f" (pip {pip})" if pip else "")
    return text if record.mode == frontends.DEFAULT_MODE else f"{text} {record.mode}"


def compare_frontends(records: Iterable[CellRecord]) -> list[tuple[str, str, int, int]]:
    """Per scenario and variant (label) other than pip's default: of the cells where pip's default
    isolation broke or leaked, how many the variant also ran (same Python and pip column: for build
    and uv, that is the newest pip's), and in how many it held."""
    verdicts = {(r.scenario, r.label, r.python, r.pip.version): r.verdict for r in records}
    failed = [(s, py, pip) for (s, label, py, pip), v in verdicts.items() if label == PIP_DEFAULT and v in FAILED]
    variants = {(s, label) for s, label, _, _ in verdicts if label != PIP_DEFAULT}
    rows = []
    for scenario, label in sorted(variants, key=lambda v: (v[0], label_order(v[1]))):
        others = [verdicts.get((scenario, label, py, pip)) for s, py, pip in failed if s == scenario]
        ran = [v for v in others if v is not None and v != NA]
        if ran:
            rows.append((scenario, label, len(ran), ran.count("held")))
    return rows


def frontends_text(records: Iterable[CellRecord]) -> str:
    """Which frontend, mode or release holds where pip's default does not, a line per scenario and
    variant (a scenario can have a dozen variants: one line for all would not fit a terminal)."""
    rows = compare_frontends(records)
    if not rows:
        return ""
    lines = ["Where pip's default isolation broke or leaked (same scenario, Python and pip), the others held:"]
    lines.extend(f"  {scenario}: {label} held in {held} of {ran}" for scenario, label, ran, held in rows)
    return "\n".join(lines)
