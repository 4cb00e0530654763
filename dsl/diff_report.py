"""Rendering a version diff for people (table), reviews (markdown) and machines (JSON).

This module owns the three output formats of ``thidua diff``: the rule
changes (`dsl.diff.StructuralDiff`), the summary over all cases, the notes
(inputs a version ignored) and, per case, every unit that changed — score,
level, rank, title statuses, the criteria that moved and by how much — and
the rotation.

`ReportWriter` works in two halves so that a corpus can be diffed in worker
processes with almost nothing left for the parent to do per case:
`ReportWriter.encode` turns one `CaseDiff` into a `CaseReport` — plain strings
and tuples, cheap to send between processes: the case's JSON text, or the
table/markdown cells of its changed units (only their number once the detail
section is full) — and runs where the case was diffed
(`dsl.compare.compare_batches` calls it in the worker); `add_batch` takes the
reports and the workers' `Summary` in input order. `add` does both for one
case in this process. The output is the same either way.

JSON is written as it goes (a corpus of any size in flat memory); the table
and markdown keep at most ``max_units`` changed units for the detail section
and print everything at the end, summary first, so that a review starts with
the totals.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO, TypeAlias

from dsl.compare import NEW, OLD, Batch, CaseDiff, CriterionMove, Summary, UnitDiff
from dsl.diff import ADDED, REMOVED, DeclChange, StructuralDiff
from dsl.results import fmt_decimal

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

FORMATS = ("table", "json", "markdown")
_MARK = {ADDED: "+", REMOVED: "-"}
_STATUS_WORDS = {
    "awarded": "awarded",
    "not_eligible": "not eligible",
    "over_quota": "over quota",
    "tied": "tied",
}


def _num(value: Decimal | None, places: int) -> str:
    return "–" if value is None else fmt_decimal(value, places)


def _signed(value: Decimal, places: int) -> str:
    text = fmt_decimal(abs(value), places)
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else f"±{text}"


def _status(s: str | None) -> str:
    return "–" if s is None else _STATUS_WORDS.get(s, s)


class UnitRow(NamedTuple):
    """A changed unit as the detail section shows it: the table's cells (unit, score, level,
    rank, titles, criteria moved) and its error lines."""

    cells: tuple[str, str, str, str, str, str]
    errors: tuple[str, ...]


class CaseDetail(NamedTuple):
    """A case as the detail section of the table and markdown shows it, rendered but not laid out."""

    heading: str
    errors: tuple[str, ...]
    units: tuple[UnitRow, ...]  # the changed units
    rotation: str


#: One case as `ReportWriter.encode` leaves it: its JSON text (format json); for the table
#: and markdown its detail, or only its number of changed units once the detail section is
#: full, or None when they have nothing to show for it.
CaseReport: TypeAlias = str | CaseDetail | int | None


class ReportWriter:
    """Accumulates a diff's summary and writes it in one of `FORMATS`."""

    def __init__(
        self,
        out: TextIO,
        fmt: str,
        old: CompiledRuleset,
        new: CompiledRuleset,
        structure: StructuralDiff,
        *,
        max_units: int = 200,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.out, self.fmt = out, fmt
        self.versions = (old, new)
        self.structure = structure
        self.max_units = max_units
        self.places = max(old.places, new.places)
        self.summary = Summary()
        self.kept: list[CaseDetail] = []
        self.kept_units = 0
        self.omitted_units = 0
        self.omitted_cases = 0
        self._first_case = True
        # Set (to 1) once the detail section is full; `encode` then only counts a case's
        # changed units instead of rendering them. Shared memory, because `encode` runs in
        # worker processes forked with a copy of this writer. A worker can see it late (it
        # then renders a case for nothing) but never early: it is set after the cases before
        # the current chunk have all been added, and room in the section never comes back.
        self._detail_full = mmap.mmap(-1, 1)

    # ------------------------------------------------------------ the stream
    def start(self) -> None:
        if self.fmt == "json":
            head = json.dumps(
                {
                    "old": self.versions[OLD].ref.to_json(),
                    "new": self.versions[NEW].ref.to_json(),
                    "rules": self.structure.to_json()["changes"],
                },
                ensure_ascii=False,
            )
            self.out.write(head[:-1] + ', "cases": [')

    def add(self, case: CaseDiff) -> None:
        """Add one case diffed in this process."""
        self.summary.add(case)
        self._add_report(self.encode(case))

    def add_batch(self, batch: Batch[CaseReport]) -> None:
        """Add consecutive cases as `encode` left them (in a worker), with their summary."""
        self.summary.merge(batch.summary)
        for report in batch.items:
            self._add_report(report)

    def encode(self, case: CaseDiff) -> CaseReport:
        """What this writer keeps of one case, in plain strings and tuples (see `CaseReport`).

        Depends only on the case and the writer's format and versions, never on the
        cases before it, so a worker process can run it with a copy of the writer.
        """
        if self.fmt == "json":
            return json.dumps(self.case_json(case), ensure_ascii=False)
        changed = _listed(case)
        if not (changed or case.rotation_changed or case.error != (None, None)):
            return None
        if self._detail_full[0]:
            return len(changed)
        return CaseDetail(
            self.case_heading(case),
            tuple(self.case_errors(case)),
            tuple(
                UnitRow(
                    (
                        u.unit,
                        self.score_text(u),
                        self.pair(u.old.level, u.new.level),
                        self.pair(u.old.rank, u.new.rank),
                        self.titles_text(u),
                        self.moves_text(u.criteria),
                    ),
                    tuple(self.unit_errors(u)),
                )
                for u in changed
            ),
            self.rotation_text(case),
        )

    def _add_report(self, report: CaseReport) -> None:
        if isinstance(report, str):
            self.out.write(("\n  " if self._first_case else ",\n  ") + report)
            self._first_case = False
            return
        if report is None:
            return
        changed = report if isinstance(report, int) else len(report.units)
        # One budget for the detail section: each kept case costs its changed units (at least 1),
        # so a huge corpus keeps a bounded report however its changes are spread.
        room = self.max_units - self.kept_units
        if room <= 0:
            self.omitted_units += changed
            self.omitted_cases += 1
            return
        if isinstance(report, int):
            raise AssertionError("a case was only counted while the detail section had room")
        self.omitted_units += max(0, changed - room)
        self.kept.append(report._replace(units=report.units[:room]) if changed > room else report)
        self.kept_units += max(1, min(room, changed))
        if self.kept_units >= self.max_units:
            self._detail_full[0] = 1

    def finish(self) -> Summary:
        if self.fmt == "json":
            tail = {"summary": self.summary_json(), "notes": self.notes()}
            self.out.write(
                ("\n" if not self._first_case else "")
                + "], "
                + json.dumps(tail, ensure_ascii=False)[1:]
                + "\n"
            )
        elif self.fmt == "markdown":
            self.out.write(self.markdown())
        else:
            self.out.write(self.table())
        return self.summary

    # ------------------------------------------------------------ shared words
    def omitted(self) -> str:
        """What the detail section leaves out, in words."""
        cases = f" in {self.omitted_cases} more cases" if self.omitted_cases else ""
        return f"{self.omitted_units} more changed units{cases}"

    def title_line(self) -> str:
        old, new = self.versions
        return f"{old.name} {old.version} → {new.name} {new.version}"

    def notes(self) -> list[str]:
        out = []
        for (side, name), count in sorted(self.summary.ignored_inputs.items()):
            v = self.versions[side]
            plural = "s" if count != 1 else ""
            out.append(
                f"input '{name}' is not declared by {v.name} {v.version}: ignored in {count} submission{plural}"
            )
        return out

    def summary_lines(self) -> list[str]:
        s = self.summary
        moves = ", ".join(f"{a} → {b}: {k}" for (a, b), k in sorted(s.level_moves.items()))
        lines = [
            f"cases: {s.cases} ({s.cases_changed} changed)",
            f"units: {s.units} ({s.units_changed} changed; score up {s.score_up}, down {s.score_down})",
            f"levels: {s.levels_up} up, {s.levels_down} down" + (f" ({moves})" if moves else ""),
            f"titles gained: {_counts(s.titles_gained)}; lost: {_counts(s.titles_lost)}",
            f"rotation changed in {s.rotation_changes} case{'s' if s.rotation_changes != 1 else ''}",
        ]
        if s.criteria_moved:
            lines.append(f"criteria that moved (units): {_counts(s.criteria_moved)}")
        errors = [
            f"{v.name} {v.version}: {s.unit_errors[i]} units, {s.case_errors[i]} cases"
            for i, v in enumerate(self.versions)
            if s.unit_errors[i] or s.case_errors[i]
        ]
        if errors:
            lines.append("errors: " + "; ".join(errors))
        return lines

    def summary_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "cases": s.cases,
            "cases_changed": s.cases_changed,
            "units": s.units,
            "units_changed": s.units_changed,
            "score_up": s.score_up,
            "score_down": s.score_down,
            "levels_up": s.levels_up,
            "levels_down": s.levels_down,
            "level_moves": [{"old": a, "new": b, "units": k} for (a, b), k in sorted(s.level_moves.items())],
            "titles_gained": dict(sorted(s.titles_gained.items())),
            "titles_lost": dict(sorted(s.titles_lost.items())),
            "rotation_changes": s.rotation_changes,
            "criteria_moved": dict(sorted(s.criteria_moved.items())),
            "errors": {
                "old": {"units": s.unit_errors[OLD], "cases": s.case_errors[OLD]},
                "new": {"units": s.unit_errors[NEW], "cases": s.case_errors[NEW]},
            },
        }

    def moves_text(self, moves: Iterable[CriterionMove]) -> str:
        parts = []
        for m in moves:
            tag = " (new)" if m.old is None else " (removed)" if m.new is None else ""
            parts.append(f"{m.name} {_signed(m.delta, self.places)}{tag}")
        return ", ".join(parts) if parts else "–"

    def score_text(self, u: UnitDiff) -> str:
        if u.old.score == u.new.score:
            return _num(u.new.score, self.places)
        delta = u.score_delta
        tail = f" ({_signed(delta, self.places)})" if delta is not None else ""
        return f"{_num(u.old.score, self.places)} → {_num(u.new.score, self.places)}{tail}"

    @staticmethod
    def pair(old: Any, new: Any) -> str:
        o = "–" if old is None else str(old)
        w = "–" if new is None else str(new)
        return o if o == w else f"{o} → {w}"

    def titles_text(self, u: UnitDiff) -> str:
        if not u.titles:
            return "–"
        return ", ".join(f"{t} {_status(a)} → {_status(b)}" for t, a, b in u.titles)

    def rotation_text(self, case: CaseDiff) -> str:
        (ol, od), (nl, nd) = case.rotation
        if not case.rotation_changed:
            return f"leader {ol or '–'}, deputy {od or '–'} (unchanged)"
        return f"leader {self.pair(ol, nl)}, deputy {self.pair(od, nd)}"

    def case_heading(self, case: CaseDiff) -> str:
        what = ", ".join(x for x in (case.bloc, case.period) if x)
        return f"{case.label}" + (f" ({what})" if what else "")

    def unit_errors(self, u: UnitDiff) -> list[str]:
        if u.old.error is not None and u.old.error == u.new.error:
            return [f"{u.unit} under both versions: {u.old.error}"]
        out = []
        for side, e in ((OLD, u.old.error), (NEW, u.new.error)):
            if e is not None:
                v = self.versions[side]
                out.append(f"{u.unit} under {v.name} {v.version}: {e}")
        return out

    def case_errors(self, case: CaseDiff) -> list[str]:
        if case.error[OLD] is not None and case.error[OLD] == case.error[NEW]:
            return [f"both versions: {case.error[OLD]}"]
        return [
            f"{self.versions[side].name} {self.versions[side].version}: {e}"
            for side, e in enumerate(case.error)
            if e is not None
        ]

    # ------------------------------------------------------------ JSON
    def case_json(self, case: CaseDiff) -> dict[str, Any]:
        p = self.places
        changed = _listed(case)
        return {
            "case": case.label,
            "bloc": case.bloc,
            "period": case.period,
            "errors": {"old": case.error[OLD], "new": case.error[NEW]},
            "rotation": {
                "old": {"leader": case.rotation[OLD][0], "deputy": case.rotation[OLD][1]},
                "new": {"leader": case.rotation[NEW][0], "deputy": case.rotation[NEW][1]},
                "changed": case.rotation_changed,
            },
            "units_unchanged": len(case.units) - len(changed),
            "units": [
                {
                    "unit": u.unit,
                    "score": {
                        "old": None if u.old.score is None else fmt_decimal(u.old.score, p),
                        "new": None if u.new.score is None else fmt_decimal(u.new.score, p),
                        "delta": None if u.score_delta is None else fmt_decimal(u.score_delta, p),
                    },
                    "level": {"old": u.old.level, "new": u.new.level, "move": u.level_move},
                    "rank": {"old": u.old.rank, "new": u.new.rank},
                    "titles": [{"title": t, "old": a, "new": b} for t, a, b in u.titles],
                    "criteria": [
                        {
                            "criterion": m.name,
                            "old": None if m.old is None else fmt_decimal(m.old, p),
                            "new": None if m.new is None else fmt_decimal(m.new, p),
                            "delta": fmt_decimal(m.delta, p),
                        }
                        for m in u.criteria
                    ],
                    "errors": {"old": u.old.error, "new": u.new.error},
                }
                for u in changed
            ],
        }

    # ------------------------------------------------------------ table
    def table(self) -> str:
        lines = [f"Diff {self.title_line()}", ""]
        lines += ["Summary", *(f"  {x}" for x in self.summary_lines())]
        notes = self.notes()
        if notes:
            lines += ["", "Notes", *(f"  {x}" for x in notes)]
        lines += ["", "Rule changes"]
        lines += [f"  {x}" for x in _rule_lines(self.structure.changes)] or ["  (none)"]
        for case in self.kept:
            lines += ["", f"Case {case.heading}"]
            lines += [f"  error: {e}" for e in case.errors]
            rows = [["unit", "score", "level", "rank", "titles", "criteria moved"]]
            rows += [list(u.cells) for u in case.units]
            if len(rows) > 1:
                lines += [f"  {x}" for x in _columns(rows)]
            for u in case.units:
                lines += [f"  error: {e}" for e in u.errors]
            lines.append(f"  rotation: {case.rotation}")
        if self.omitted_units or self.omitted_cases:
            lines += [
                "",
                f"… and {self.omitted()} (--max-units, or --format json for all)",
            ]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------ markdown
    def markdown(self) -> str:
        lines = [f"## Ruleset diff: {self.title_line()}", ""]
        old, new = self.versions
        lines += [f"`{old.sha256[:12]}` → `{new.sha256[:12]}`", "", "### Summary", ""]
        lines += [f"- {x}" for x in self.summary_lines()]
        notes = self.notes()
        if notes:
            lines += ["", "### Notes", "", *(f"- {x}" for x in notes)]
        lines += ["", "### Rule changes", ""]
        rule_lines = _rule_lines(self.structure.changes, markdown=True)
        lines += rule_lines or ["_none_"]
        for case in self.kept:
            lines += ["", f"### Case `{case.heading}`", ""]
            lines += [f"- **error**: {_md(e)}" for e in case.errors]
            if case.units:
                lines += [
                    "| unit | score | level | rank | titles | criteria moved |",
                    "|---|---|---|---|---|---|",
                ]
                for u in case.units:
                    cells = [f"`{u.cells[0]}`", *u.cells[1:]]
                    lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
            errors = [e for u in case.units for e in u.errors]
            if errors:
                lines += ["", *(f"- **error**: {_md(e)}" for e in errors)]
            lines += ["", f"Rotation: {_md(case.rotation)}"]
        if self.omitted_units or self.omitted_cases:
            lines += [
                "",
                f"_… and {self.omitted()} (use `--format json` for all)._",
            ]
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _counts(counter: Any) -> str:
    items = sorted(counter.items())
    return ", ".join(f"{k} {v}" for k, v in items) if items else "none"


def _rule_lines(changes: Iterable[DeclChange], *, markdown: bool = False) -> list[str]:
    out: list[str] = []
    for c in changes:
        mark = _MARK.get(c.status, "~")
        head = f"{mark} {c.title}"
        out.append(f"- **{c.status}** `{c.title}`" if markdown else head)
        for f in c.fields:
            if c.status in (ADDED, REMOVED):
                text = f"{f.field}: {f.new if f.old is None else f.old}"
            elif f.old is None:
                text = f"{f.field}: + {f.new}"
            elif f.new is None:
                text = f"{f.field}: − {f.old}"
            else:
                text = f"{f.field}: {f.old}  →  {f.new}"
            out.append(f"  - {_md(text)}" if markdown else f"    {text}")
    return out


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _listed(case: CaseDiff) -> list[UnitDiff]:
    """The units a report shows for a case: those that changed, and those in error under
    either version — a unit both versions reject is reported although nothing changed."""
    return [u for u in case.units if u.changed or u.old.error is not None or u.new.error is not None]
