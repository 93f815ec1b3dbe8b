"""Compare two runs: which cells changed verdict, as regressions (toward leaked or broke) and fixes.

This is how a maintainer checks a patch: run the catalogue against the last release and against the
candidate, then compare; exit 1 when a regression appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from isolation_harness.record import CellRecord

# How bad a verdict is for the isolation: a move up this scale is a regression, down is a fix.
SEVERITY = {"held": 0, "leaked": 1, "broke": 2}


@dataclass(frozen=True)
class Change:
    cell: str  # the cell id without the pip version when runs use different pips: see key()
    base: str
    candidate: str
    base_cell: str
    candidate_cell: str

    @property
    def kind(self) -> str:
        if self.base in SEVERITY and self.candidate in SEVERITY:
            return "regression" if SEVERITY[self.candidate] > SEVERITY[self.base] else "fix"
        return "other"


def key(record: CellRecord, *, by_pip: bool) -> str:
    """The cell id, maybe without its pip: the label (frontend, release, mode) keeps pip's default and
    its venv-isolation apart, and build==1.4.2 from build==1.4.3."""
    parts = [record.scenario, f"py{record.python}", record.label]
    if by_pip:
        parts.insert(2, f"pip{record.pip.version}")
    return "/".join(parts)


def compare(base: Sequence[CellRecord], candidate: Sequence[CellRecord]) -> tuple[list[Change], list[str]]:
    """Changed cells, and the cells present in only one run.

    Cells match on scenario, Python, pip and label (frontend, its release and pip's mode). When the
    two runs each hold one pip per (scenario, Python, label), as when a candidate pip is checked
    against the last release, they match without the pip version.
    """
    by_pip = not (_one_pip_each(base) and _one_pip_each(candidate))
    left = {key(r, by_pip=by_pip): r for r in base}
    right = {key(r, by_pip=by_pip): r for r in candidate}
    changes = [
        Change(k, left[k].verdict, right[k].verdict, left[k].cell, right[k].cell)
        for k in sorted(left.keys() & right.keys())
        if left[k].verdict != right[k].verdict
    ]
    unmatched = sorted(left.keys() ^ right.keys())
    return changes, unmatched


def _one_pip_each(records: Sequence[CellRecord]) -> bool:
    seen: dict[str, set[str]] = {}
    for r in records:
        seen.setdefault(key(r, by_pip=False), set()).add(r.pip.version)
    return all(len(v) == 1 for v in seen.values())


def render(changes: list[Change], unmatched: list[str]) -> str:
    lines = []
    for kind, title in (("regression", "Regressions"), ("fix", "Fixes"), ("other", "Other changes")):
        group = [c for c in changes if c.kind == kind]
        lines.append(f"{title}: {len(group)}")
        lines.extend(f"  {c.base_cell}: {c.base} -> {c.candidate}" for c in group)
    if unmatched:
        lines.append(f"Cells in only one run: {len(unmatched)}")
        lines.extend(f"  {u}" for u in unmatched)
    return "\n".join(lines)
