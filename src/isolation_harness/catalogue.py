"""The catalogue's status page: per scenario, its upstream state beside what the newest releases did.

Maintainers read it each week to learn which open reports still reproduce and which fixed ones came
back, so the page flags exactly those disagreements between the scenario's ``upstream.state`` and the
run's verdicts for the frontend the report is about (pip as users run it, in its default mode; a build
or uv report: that frontend's newest release in the run):

- open or unreported, and every cell of the newest release held: the report no longer reproduces;
- fixed (or a guard), and a cell the scenario expects to hold leaked, broke or hung: it is back. A cell
  whose expectation already names the failure is a known, other cause (user-site's base
  site-packages on 3.9-3.11, not the user site pip #5224 was about) and is not flagged again.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from isolation_harness import frontends
from isolation_harness.record import CellRecord
from isolation_harness.report_layout import COLOUR, GLYPH, label_order, version_key
from isolation_harness.scenario import Scenario
from isolation_harness.upstream import Upstream

# Verdicts that show the bug; `held` shows it did not; anything else says nothing about it.
REPRODUCES = ("leaked", "broke", "timeout")
UNKNOWN = ("not-applicable", "unsupported", "error", "flaky")

FLAG_GONE = "open report no longer reproduces"
FLAG_BACK = "fixed report reproduces again"
FLAG_UNREPORTED_GONE = "unreported behaviour no longer reproduces"
FLAG_GUARD = "guarded behaviour regressed"


@dataclass(frozen=True)
class Newest:
    """The verdicts of one variant (a pip mode, a build or uv release) at its newest release in the run."""

    label: str  # the variant: pip, pip+venv-isolation, build==1.6.1
    release: str  # the newest pip (for pip's modes) or the frontend's newest release measured
    verdicts: tuple[tuple[str, str], ...]  # (python, verdict), by Python
    expected: tuple[str | None, ...]  # the scenario's expectation of each of those cells

    def summary(self) -> str:
        """``leaked (3.10, 3.11), held (3.9 with pip 26.0.1, 3.13)``."""
        by: dict[str, list[str]] = {}
        for python, verdict in self.verdicts:
            by.setdefault(verdict, []).append(python)
        return ", ".join(f"{v} ({', '.join(pys)})" for v, pys in by.items())

    @property
    def outcome(self) -> str | None:
        """``reproduces`` when any Python showed the bug, ``held`` when every Python that ran held,
        None when nothing ran that can tell."""
        seen = {v for _, v in self.verdicts if v not in UNKNOWN}
        if seen & set(REPRODUCES):
            return "reproduces"
        return "held" if seen else None

    @property
    def back(self) -> bool:
        """Whether a cell expected to hold (or expected nothing) leaked, broke or hung."""
        return any(
            v in REPRODUCES and e in ("held", None) for (_, v), e in zip(self.verdicts, self.expected, strict=True)
        )


@dataclass(frozen=True)
class Status:
    scenario: str
    summary: str
    upstream: Upstream | None
    newest: tuple[Newest, ...]  # every variant of the run, in table order
    flag: str | None  # the disagreement between the upstream state and the run, if any
    checked: str | None  # which variant the upstream state was checked against, and its outcome

    @property
    def measured(self) -> bool:
        return bool(self.newest)


def statuses(scenarios: Iterable[Scenario], records: Iterable[CellRecord]) -> list[Status]:
    by: dict[str, list[CellRecord]] = {}
    for record in records:
        by.setdefault(record.scenario, []).append(record)
    return [_status(s, by.get(s.name, [])) for s in sorted(scenarios, key=lambda s: s.name)]


def _status(scenario: Scenario, records: Sequence[CellRecord]) -> Status:
    newest = _newest(records)
    upstream = scenario.upstream
    flag = checked = None
    if upstream is not None:
        variant = _reported_variant(upstream, newest)
        if variant is not None and variant.outcome is not None:
            checked = f"{_heading(variant)}: {variant.outcome}"
            if upstream.state in ("fixed", "guard") and variant.back:
                flag = FLAG_BACK if upstream.state == "fixed" else FLAG_GUARD
            elif upstream.state == "open" and variant.outcome == "held":
                flag = FLAG_GONE
            elif upstream.state == "unreported" and variant.outcome == "held":
                flag = FLAG_UNREPORTED_GONE
    return Status(scenario.name, scenario.summary, upstream, tuple(newest), flag, checked)


def _newest(records: Sequence[CellRecord]) -> list[Newest]:
    """Per variant (pip in one of its modes; build; uv) and per Python, the cells of the newest release
    that ran on that Python: pip 26.3 needs 3.10, so 3.9's newest is the newest pip that runs there.
    A Python whose release is not the variant's newest says which it is ("3.9 with pip 26.0.1")."""
    groups: dict[tuple[str, str], list[CellRecord]] = {}
    for record in records:
        name, _release, mode = frontends.parse_label(record.label)
        groups.setdefault((name, mode), []).append(record)
    out: list[Newest] = []
    for cells in groups.values():
        by_python: dict[str, list[CellRecord]] = {}
        for record in cells:
            by_python.setdefault(record.python, []).append(record)
        # A Python where this variant never ran (pip's modes on 3.8) is left out, unless it ran nowhere.
        ran_by_python = [[r for r in found if r.verdict != "not-applicable"] for found in by_python.values()]
        chosen = [max(ran, key=_recency) for ran in ran_by_python if ran]
        mark = bool(chosen)
        chosen = chosen or [max(found, key=_recency) for found in by_python.values()]
        top = max(chosen, key=_recency)
        chosen.sort(key=lambda r: version_key(r.python))
        verdicts = tuple(
            (r.python if not mark or _released(r) == _released(top) else f"{r.python} with {_released(r)}", r.verdict)
            for r in chosen
        )
        release = _released(top) if _is_pip(top) else _released(top).split(" ", 1)[1]
        out.append(Newest(top.label, release, verdicts, tuple(r.expected for r in chosen)))
    return sorted(out, key=lambda v: label_order(v.label))


def _is_pip(record: CellRecord) -> bool:
    name, release, _mode = frontends.parse_label(record.label)
    return release is None and not frontends.get(name).releases_axis


def _released(record: CellRecord) -> str:
    """``pip 26.0.1`` for pip's modes, ``build 1.4.4`` for a frontend (its pinned or measured release)."""
    name, release, _mode = frontends.parse_label(record.label)
    if _is_pip(record):
        return f"pip {record.pip.version}"
    return f"{name} {release or record.frontend_version or '?'}"


def _recency(record: CellRecord) -> tuple[tuple[int, object, str], tuple[int, object, str]]:
    """Newer frontend release first, then the newer host pip it ran with."""
    _name, release, _mode = frontends.parse_label(record.label)
    version = None if _is_pip(record) else (release or record.frontend_version)
    return version_key(version), version_key(record.pip.version)


def _reported_variant(upstream: Upstream, newest: Sequence[Newest]) -> Newest | None:
    """The variant the report is about: pip in its default mode, or the reported frontend's newest."""
    for variant in newest:
        name, _release, mode = frontends.parse_label(variant.label)
        if name == upstream.frontend and mode == frontends.DEFAULT_MODE:
            return variant
    return None


def _heading(variant: Newest) -> str:
    name, release, mode = frontends.parse_label(variant.label)
    if release is None and not frontends.get(name).releases_axis:
        return variant.release + ("" if mode == frontends.DEFAULT_MODE else f" {mode}")
    return f"{name} {variant.release}"


def _state(upstream: Upstream | None) -> str:
    if upstream is None:
        return "not given"
    fixed = ", ".join(f"{name} {release}" for name, release in upstream.fixed_in)
    return f"{upstream.state} (fixed in {fixed})" if fixed else upstream.state


def markdown(items: Sequence[Status]) -> str:
    flagged = [s for s in items if s.flag]
    lines = ["# Catalogue status", ""]
    lines.append(
        f"{len(items)} scenarios, {sum(1 for s in items if s.measured)} measured in this run; "
        f"{len(flagged)} where the run disagrees with the upstream state."
    )
    lines.append("")
    if flagged:
        lines.append("## Flags")
        lines.append("")
        lines.extend(
            f"- **{s.scenario}**: {s.flag} ({s.checked}; {s.upstream.url if s.upstream else ''})" for s in flagged
        )
        lines.append("")
    lines.append("| scenario | upstream | newest releases | flag |")
    lines.append("|---|---|---|---|")
    for s in items:
        link = f"[{_state(s.upstream)}]({s.upstream.url})" if s.upstream else _state(s.upstream)
        newest = "<br>".join(f"{GLYPH.get(_worst(v), '')} {_heading(v)}: {v.summary()}" for v in s.newest)
        lines.append(f"| {s.scenario} | {link} | {newest or 'not measured'} | {s.flag or ''} |")
    return "\n".join(lines) + "\n"


def _worst(variant: Newest) -> str:
    order = ("timeout", "broke", "leaked", "error", "flaky", "unsupported", "held", "not-applicable")
    found = {v for _, v in variant.verdicts}
    return next((v for v in order if v in found), "not-applicable")


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table.status { border-collapse: collapse; }
table.status th, table.status td { border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; text-align: left; }
tr.flagged td.flag { background: #ffebee; font-weight: bold; }
span.variant { display: block; margin: .1em 0; padding: 0 .4em; }
"""


def html_page(items: Sequence[Status], title: str) -> str:
    esc = html.escape
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>", f"<title>{esc(title)}</title>"]
    styles = "".join(f"span.verdict-{v} {{ border-left: 1em solid {c}; }}\n" for v, c in COLOUR.items())
    out.append(f"<style>{_CSS}{styles}</style></head><body><h1>{esc(title)}</h1>")
    flagged = sum(1 for s in items if s.flag)
    out.append(f"<p>{len(items)} scenarios; {flagged} where the run disagrees with the upstream state.</p>")
    out.append("<table class='status'><tr><th>scenario</th><th>upstream</th><th>newest releases</th><th>flag</th></tr>")
    for s in items:
        state = esc(_state(s.upstream))
        upstream = f"<a href='{esc(s.upstream.url)}'>{state}</a>" if s.upstream else state
        variants = "".join(
            f"<span class='variant verdict-{esc(_worst(v))}' data-label='{esc(v.label)}'>"
            f"{esc(_heading(v))}: {esc(v.summary())}</span>"
            for v in s.newest
        )
        row = "flagged" if s.flag else "ok"
        out.append(
            f"<tr class='{row}' id='{esc(s.scenario)}' data-flag='{esc(s.flag or '')}'>"
            f"<td><b>{esc(s.scenario)}</b><br><small>{esc(s.summary)}</small></td><td>{upstream}</td>"
            f"<td>{variants or 'not measured'}</td><td class='flag'>{esc(s.flag or '')}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"
