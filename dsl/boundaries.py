"""Boundary cases: submissions on and next to every threshold of a ruleset, and quota edges.

This module owns ``thidua gen-cases --boundaries``. From base submissions
(a case's units, a submission, or the ruleset's own test ``given`` blocks)
it moves each number and date input along its axis, collecting every value
at which some comparison flips — a threshold (``advanced_members >= 70% *
members``), a cap, a clamp, a table row edge (`dsl.linear`, as
`dsl.whatif` does) — within the input's declared range. For each such
value it writes the submissions *on* it (when the input's grid reaches it
exactly) and just *below* and *above* it, each labelled with what changes
across the edge (points, level, title eligibility).

Quota edges are blocs: for each title with a quota, a bloc of exactly as
many copies of a unit eligible for it as the quota allows (all awarded)
and one more (all tied at the boundary, left to a vote).

The cases are CASE files (SPEC §2), so `thidua evaluate` and `thidua diff`
read them directly: reviewing a new version is
``thidua diff OLD NEW boundaries.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl import runtime as rt
from dsl.bloc import quota_limit
from dsl.errors import EvaluationError, InputError, RulesetError
from dsl.inputs import literal_value
from dsl.linear import days
from dsl.results import NOT_ELIGIBLE, UnitResult, fmt_decimal, value_to_json
from dsl.search import MAX_VALUE, WALK_CAP, AxisSearch, freeze, short, show_value, snap, tidy

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

__all__ = ["Boundary", "BoundarySet", "bases_from_tests", "boundary_cases"]


@dataclass(frozen=True, slots=True)
class Boundary:
    """One generated submission: the base it came from, the input moved, where the edge is."""

    unit: str
    base: str
    input: str
    value: Any
    edge: Any
    side: str
    inputs: Mapping[str, Any]
    changes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "input": self.input,
            "value": value_to_json(self.value),
            "edge": show_value(self.edge) if isinstance(self.edge, Decimal) else value_to_json(self.edge),
            "side": self.side,
            "changes": self.changes,
        }


@dataclass
class BoundarySet:
    """Everything generated for one ruleset: unit boundaries and quota-edge blocs."""

    ruleset: str
    boundaries: list[Boundary] = field(default_factory=list)
    quota_cases: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def case(self) -> dict[str, Any]:
        """All unit boundaries as one CASE (units ``b0001_input_value``), for evaluate and diff."""
        units = [b.unit for b in self.boundaries]
        out: dict[str, Any] = {"ruleset": self.ruleset, "bloc": "boundaries", "period": "boundaries"}
        out["members"] = units
        if len(units) >= 2:
            out["current"] = {"leader": units[0], "deputy": units[1]}
        out["submissions"] = [{"unit": b.unit, "inputs": _json_inputs(b.inputs)} for b in self.boundaries]
        return out

    def index(self) -> dict[str, Any]:
        """What each generated unit is: base, input, value, edge, side, what changes across it."""
        return {b.unit: b.to_json() for b in self.boundaries}


def bases_from_tests(compiled: CompiledRuleset) -> list[tuple[str, Mapping[str, Any]]]:
    """The ruleset's own test ``given`` blocks as bases (named by their labels)."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    tests = list(compiled.checked.tests)
    if not tests and compiled.source:
        # Compiled without its file's tests (through the registry): read them from the source.
        from dsl.parser import parse

        try:
            sf = parse(compiled.source, compiled.path)
        except RulesetError:
            return out
        tests = (sf.ruleset.tests if sf.ruleset is not None else []) + list(sf.tests)
    for t in tests:
        try:
            out.append((t.label, {g.name: literal_value(g.value) for g in t.given}))
        except ValueError:
            continue
    return out


def boundary_cases(
    compiled: CompiledRuleset,
    bases: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    only: Sequence[str] | None = None,
) -> BoundarySet:
    """Boundary submissions around every threshold reachable from each base, and quota-edge blocs."""
    out = BoundarySet(f"{compiled.name}@{compiled.version}")
    seen: set[Any] = set()
    eligible: dict[str, Mapping[str, Any]] = {}
    for label, raw in bases:
        try:
            base = compiled.validate(raw)
            result = compiled.score(base, validated=True)
        except (InputError, EvaluationError) as exc:
            out.notes.append(f"base '{label}' skipped: {exc}")
            continue
        for t, tr in result.titles.items():
            if tr.status != NOT_ELIGIBLE:  # eligible, or undecided until ranked in a bloc
                eligible.setdefault(t, base)
        search = AxisSearch(_Validity(compiled), None)
        base_key = freeze(base)
        for decl in compiled.plan.inputs:
            if only is not None and decl.name not in only:
                continue
            if not (isinstance(decl.type, n.SimpleType) and decl.type.name in ("int", "decimal", "date")):
                continue
            for edge, value, side, across in _edges(compiled, search, base, decl.name):
                key = (decl.name, value, base_key)
                if key in seen:
                    continue
                seen.add(key)
                inputs = {**base, decl.name: value}
                unit = f"b{len(out.boundaries) + 1:04d}_{decl.name}_{_slug(value)}"
                out.boundaries.append(
                    Boundary(
                        unit,
                        label,
                        decl.name,
                        value,
                        edge,
                        side,
                        inputs,
                        across,
                    )
                )
    out.quota_cases = _quota_edges(compiled, eligible, out.notes)
    return out


class _Validity:
    """A probe that only validates (the walk needs to know where the declared range ends)."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.unit: str | None = None

    def outcome(self, inputs: Mapping[str, Any]) -> Any:
        try:
            self.compiled.validate(inputs)
        except InputError as exc:
            return str(exc)
        return None


def _edges(
    compiled: CompiledRuleset, search: AxisSearch, base: Mapping[str, Any], name: str
) -> list[tuple[Any, Any, str, str]]:
    """(edge, value, side) for every switch point along one input's axis within its valid range."""
    x0 = base[name]
    is_date = isinstance(x0, dt.date)
    step = search.step_of(name, x0)
    points: set[Decimal] = set()
    origin = days(x0) if is_date else x0
    points.update(p for p in search.trace(base, name).points if p == origin)  # the base sits on an edge
    for direction in (1, -1):
        cur = origin
        for _ in range(WALK_CAP):
            tr = search.trace(search.at(base, name, cur), name)
            ahead = [p for p in tr.points if (p - cur) * direction > 0 and abs(p) < MAX_VALUE]
            if not ahead:
                break
            s = min(ahead, key=lambda p: (p - cur) * direction)
            nxt = snap(s, step, direction)
            if nxt == s:
                nxt += direction * step
            if not _valid(compiled, search.at(base, name, nxt)):
                points.add(s)
                break
            points.add(s)
            cur = nxt
    out: list[tuple[Any, Any, str, str]] = []
    for s in sorted(points):
        below, above = snap(s, step, -1), snap(s, step, 1)
        if below == above:
            values = [(below - step, "below"), (s, "on"), (above + step, "above")]
        elif step != rt.ONE and short(s):  # a decimal can sit exactly on 0.905
            values = [(below, "below"), (s, "on"), (above, "above")]
        else:
            values = [(below, "below"), (above, "above")]
        inputs = [(search.at(base, name, v), side) for v, side in values]
        valid = [(i, side) for i, side in inputs if _valid(compiled, i)]
        if len(valid) < 2:
            continue
        # A real edge flips a comparison (a threshold, cap, clamp, table row, if). Points that a
        # nonlinear expression's linearization suggests, where no comparison flips, are dropped.
        first, last = _result(compiled, valid[0][0]), _result(compiled, valid[-1][0])
        same = search.trace(valid[0][0], name).outcomes == search.trace(valid[-1][0], name).outcomes
        if first is None or last is None or same:
            continue
        edge: Any = dt.date.fromordinal(int(s)) if is_date and s == s.to_integral_value() else tidy(s)
        across = _words(first, last, compiled.places)
        out.extend((edge, i[name], side, across) for i, side in valid)
    return out


def _result(compiled: CompiledRuleset, inputs: Mapping[str, Any]) -> UnitResult | None:
    try:
        return compiled.score(inputs, validated=True)
    except EvaluationError:
        return None


def _valid(compiled: CompiledRuleset, inputs: Mapping[str, Any]) -> bool:
    try:
        compiled.validate(inputs)
    except InputError:
        return False
    return True


def _words(a: UnitResult, b: UnitResult, places: int) -> str:
    """What differs from just below the edge to just above it, in words."""
    return _diff(a, b, places) or "a comparison flips, but another condition keeps every outcome the same"


def _diff(a: UnitResult, b: UnitResult, places: int) -> str:
    parts: list[str] = []
    for name, v in b.criteria.items():
        if a.criteria.get(name) != v:
            parts.append(f"{name} {fmt_decimal(a.criteria[name], places)} → {fmt_decimal(v, places)}")
    if a.score != b.score:
        parts.append(f"score {fmt_decimal(a.score, places)} → {fmt_decimal(b.score, places)}")
    if a.level != b.level:
        parts.append(f"level {a.level} → {b.level}")
    for t, tr in b.titles.items():
        if a.titles[t].status != tr.status:
            parts.append(f"{t} {a.titles[t].status} → {tr.status}")
    return "; ".join(parts)


def _quota_edges(
    compiled: CompiledRuleset, eligible: Mapping[str, Mapping[str, Any]], notes: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for t in compiled.ruleset.titles:
        if t.quota is None:
            continue
        base = eligible.get(t.name)
        if base is None:
            notes.append(f"quota edge of '{t.name}' skipped: no base submission is eligible for it alone")
            continue
        if t.quota.count is not None:
            sizes = [t.quota.count, t.quota.count + 1]
        else:
            share = t.quota.percent or Decimal(1)
            # The smallest bloc where the quota reaches 2, and the bloc just below it.
            k = int(rt.ceil(Decimal(2) / share))
            sizes = [k - 1, k] if k > 1 else [k]
        for size in sizes:
            if size < 1:
                continue
            limit = quota_limit(t.quota.count, t.quota.percent, size)
            units = [f"{t.name}_{i + 1}" for i in range(size)]
            case: dict[str, Any] = {
                "ruleset": f"{compiled.name}@{compiled.version}",
                "bloc": f"quota-{t.name}",
                "period": f"{size}-units",
                "members": units,
                "submissions": [{"unit": u, "inputs": _json_inputs(base)} for u in units],
            }
            if size >= 2:
                case["current"] = {"leader": units[0], "deputy": units[1]}
            what = "all awarded" if limit is None or size <= limit else f"{size} tied for {limit} place(s)"
            out.append((f"quota-{t.name}-{size}-units ({what})", case))
    return out


def _json_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs for a CASE file: whole numbers as JSON integers, other decimals as exact text."""

    def one(v: Any) -> Any:
        if isinstance(v, Decimal) and v == v.to_integral_value():
            return int(v)
        return value_to_json(v)

    return {k: one(v) for k, v in inputs.items()}


def _slug(value: Any) -> str:
    text = str(value_to_json(value))
    return "".join(c if c.isalnum() else "_" for c in text)
