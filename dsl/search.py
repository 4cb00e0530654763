"""Searching one input's axis: the smallest change of one input that satisfies a predicate.

This module owns the search behind `dsl.whatif` (and the switch points
`dsl.boundaries` reuses). A number or date input is moved along its axis
with `dsl.linear`: the unit is re-scored with the input as an exact linear
quantity, which yields every value at which some comparison (a threshold, a
cap, a table row, a clamp, a ranking tie) would flip. An outcome can only
change at those points, so walking from one to the next, verifying each
candidate on the real evaluator (through a *probe*), finds the nearest value
that works: ``exact`` when the evaluation is linear in the input, ``search``
(bounded, said as such) when it is not. Booleans are flipped, enums tried
value by value, list inputs have records removed (up to three) or one
record added; text inputs are not varied.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Protocol

from dsl import nodes as n
from dsl import runtime as rt
from dsl.case import Case
from dsl.errors import EvaluationError
from dsl.linear import Linear, Trace, days
from dsl.results import value_to_json

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

__all__ = [
    "AxisSearch",
    "Change",
    "Limit",
    "Outcome",
    "Probe",
    "freeze",
    "ranking_keys",
    "short",
    "show_value",
    "snap",
    "tidy",
]

#: Steps of the switch-point walk in each direction before the search gives up (said as such).
WALK_CAP = 80
#: List inputs: at most this many records removed at once, and this many combinations tried.
MAX_REMOVED = 3
MAX_COMBINATIONS = 200
#: The largest magnitude a submission may hold (`dsl.inputs` refuses more than 24 digits).
MAX_VALUE = Decimal("1e24")
EXACT = "exact"
SEARCH = "search"
ENUMERATED = "enumerated"


@dataclass(frozen=True, slots=True)
class Change:
    """One input changed: from what, to what, found how, and what it does.

    ``method`` is ``exact`` (linear in the input: the nearest value, proven by
    the switch points), ``search`` (a bounded search: the evaluation is not
    linear in the input, or depends on the rest of the bloc) or
    ``enumerated`` (every alternative of a bool, enum or list was tried).
    ``shows`` are the condition's two sides after the change
    (``advanced_members >= 70% * members: 14 >= 14.00``); ``breaks`` lists other
    conditions of the target that held before and fail after.
    """

    input: str
    label: str | None
    before: Any
    after: Any
    method: str
    note: str = ""
    shows: str = ""
    breaks: tuple[str, ...] = ()

    @property
    def delta(self) -> Any:
        """``after - before`` for numbers, days for dates, None otherwise."""
        if isinstance(self.before, Decimal) and isinstance(self.after, Decimal):
            return self.after - self.before
        if isinstance(self.before, dt.date) and isinstance(self.after, dt.date):
            return Decimal((self.after - self.before).days)
        return None

    def size(self) -> Decimal:
        """How big the change is relative to the value (for ordering a unit's options)."""
        d = self.delta
        if d is None:
            return Decimal(1)
        base = abs(self.before) if isinstance(self.before, Decimal) else Decimal(365)
        ratio: Decimal = abs(d) / max(base, Decimal(1))
        return ratio

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "label": self.label,
            "from": value_to_json(self.before),
            "to": value_to_json(self.after),
            "method": self.method,
        }
        if self.delta is not None:
            out["delta"] = value_to_json(self.delta)
        if self.note:
            out["note"] = self.note
        if self.shows:
            out["shows"] = self.shows
        if self.breaks:
            out["breaks"] = list(self.breaks)
        return out


@dataclass(frozen=True, slots=True)
class Limit:
    """An input that cannot make a condition hold, and why (its range, or no effect)."""

    input: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"input": self.input, "reason": self.reason}


@dataclass(frozen=True)
class Outcome:
    """The target evaluated for one set of inputs."""

    reached: bool
    status: str
    passed: tuple[bool | None, ...]
    values: Mapping[str, Any]
    groups: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)


class Probe(Protocol):
    """Evaluates an outcome for a unit's (changed) inputs; a string is the violation that forbids them."""

    compiled: CompiledRuleset
    unit: str | None

    def outcome(self, inputs: Mapping[str, Any]) -> Outcome | str: ...


class AxisSearch:
    """Finds, for a predicate on outcomes, the smallest change of one input that satisfies it."""

    def __init__(self, probe: Probe, case: Case | None) -> None:
        self.probe = probe
        self.compiled = probe.compiled
        self.plan = probe.compiled.plan
        self.inputs = {i.name: i for i in self.plan.inputs}
        self.bloc_aggs: rt.BlocAggregates | None = None
        self.others: dict[str, list[Any]] = {}
        self.keys: list[str] = []
        self.approximate = False
        self.traces: dict[Any, Trace] = {}
        if case is not None:
            self._bloc_context(case)

    def _bloc_context(self, case: Case) -> None:
        validated = [self.compiled.validate(s.inputs, unit=s.unit) for s in case.submissions]
        units = [s.unit for s in case.submissions]
        if self.plan.aggregates:
            self.bloc_aggs = self.compiled.bloc_aggregates(validated, units=units)
            self.approximate = True  # the unit's own change moves the bloc aggregates too
        exprs = [k.expr for k in ranking_keys(self.plan.ruleset)]
        for t in self.plan.ruleset.titles:
            exprs += [k.expr for k in t.rank_by or ()]
        self.keys = sorted({e.id for e in exprs if isinstance(e, n.Name)})
        for s, v in zip(case.submissions, validated, strict=True):
            if s.unit == self.probe.unit:
                continue
            r = self.compiled.score(v, unit=s.unit, validated=True, bloc=self.bloc_aggs)
            for k in self.keys:
                if k in r.values:
                    self.others.setdefault(k, []).append(r.values[k])

    def with_probe(self, probe: Probe) -> AxisSearch:
        """The same search context (bloc, ranking keys) over another probe."""
        other = copy.copy(self)
        other.probe = probe
        return other

    def trace(self, inputs: Mapping[str, Any], name: str) -> Trace:
        """Score with ``name`` as a linear quantity; every switch point recorded (cached)."""
        key = (name, freeze(inputs))
        found = self.traces.get(key)
        if found is None:
            found = self.traces[key] = self._trace(inputs, name)
        return found

    def _trace(self, inputs: Mapping[str, Any], name: str) -> Trace:
        x0 = inputs[name]
        trace = Trace(days(x0) if isinstance(x0, dt.date) else x0)
        values = dict(inputs)
        values[name] = Linear(x0, rt.ONE, trace)
        try:
            out = self.compiled.interpreter.score(values, self.bloc_aggs)
        except (EvaluationError, ArithmeticError, TypeError):
            return trace  # the points found before the failure still guide the walk
        scored = out[0]
        for k in self.keys:
            mine = scored.get(k)
            if isinstance(mine, Linear):
                for other in self.others.get(k, []):
                    _ = mine == other  # records where the unit would tie (and pass) another
        return trace

    def number(self, base: Mapping[str, Any], name: str, ok: Callable[[Outcome], bool]) -> Change | Limit:
        """The nearest value of a number or date input for which ``ok`` holds."""
        x0 = base[name]
        is_date = isinstance(x0, dt.date)
        step = self.step_of(name, x0)
        origin = days(x0) if is_date else x0
        found: list[tuple[Decimal, int, Decimal, str]] = []
        reasons: list[str] = []
        for direction in (1, -1):
            value, method, why = self._walk(base, name, step, direction, ok)
            if value is not None:
                # Nearest first; at equal distance an increase is listed (direction 1 sorts first).
                found.append((abs(value - origin), -direction, value, method))
            elif why:
                reasons.append(f"{'raising' if direction > 0 else 'lowering'} it: {why}")
        if not found:
            return Limit(name, _limit_words(reasons))
        _, _, value, method = min(found)
        after: Any = dt.date.fromordinal(int(value)) if is_date else tidy(value)
        return Change(name, self._label(name), x0, after, method)

    def step_of(self, name: str, x0: Any) -> Decimal:
        """The input's grid: 1 for int and date (a day), else the ruleset's places or the value's own."""
        decl = self.inputs[name]
        if isinstance(x0, dt.date) or (isinstance(decl.type, n.SimpleType) and decl.type.name == "int"):
            return rt.ONE
        exponent = x0.as_tuple().exponent if isinstance(x0, Decimal) else 0
        places = max(self.plan.places, -exponent if isinstance(exponent, int) else 0)
        return rt.quantum(places)

    def at(self, base: Mapping[str, Any], name: str, x: Decimal) -> dict[str, Any]:
        """``base`` with input ``name`` at axis position ``x`` (a day number for dates)."""
        out = dict(base)
        if isinstance(base[name], dt.date):
            out[name] = dt.date.fromordinal(int(x)) if 1 <= x <= dt.date.max.toordinal() else str(x)
        else:
            out[name] = tidy(x)
        return out

    def _walk(
        self,
        base: Mapping[str, Any],
        name: str,
        step: Decimal,
        direction: int,
        ok: Callable[[Outcome], bool],
        seen: list[tuple[Decimal, Outcome]] | None = None,
    ) -> tuple[Decimal | None, str, str]:
        """Walk the switch points in one direction; (value, method, '') or (None, '', why not).

        Every valid value visited is appended to ``seen`` with its outcome.
        """
        x0 = base[name]
        is_date = isinstance(x0, dt.date)
        origin = cur = days(x0) if is_date else x0
        last_fail = cur
        nonlinear = self.approximate
        inputs = dict(base)
        for _ in range(WALK_CAP):
            tr = self.trace(inputs, name)
            nonlinear = nonlinear or tr.nonlinear
            ahead = [p for p in tr.points if (p - cur) * direction > 0]
            candidates: list[Decimal] = []
            if cur in tr.points:
                candidates.append(cur + direction * step)
            if ahead:
                s = min(ahead, key=lambda p: (p - cur) * direction)
                g = snap(s, step, direction)
                candidates.append(g)
                if g == s:
                    candidates.append(g + direction * step)
                elif step != rt.ONE and short(s):
                    # A decimal input may sit exactly on a short threshold (90.5% → 0.905),
                    # finer than the ruleset's places: that is the smallest change, not 0.91.
                    candidates.append(s)
            if not candidates:
                if cur == origin:
                    return None, "", "changes nothing here"
                return (
                    None,
                    "",
                    f"nothing changes beyond {show_value(tidy(cur)) if not is_date else dt.date.fromordinal(int(cur))}",
                )
            for c in sorted(set(candidates), key=lambda p: (p - cur) * direction):
                if abs(c) > MAX_VALUE:
                    return None, "", "no value within the numbers a submission may hold does it"
                o = self.probe.outcome(self.at(base, name, c))
                if isinstance(o, str):
                    return None, "", o
                if seen is not None:
                    seen.append((c, o))
                if ok(o):
                    best = self._refine(base, name, last_fail, c, step, ok)
                    return best, SEARCH if nonlinear else EXACT, ""
                last_fail = c
            cur = last_fail
            inputs = self.at(base, name, cur)
        return None, "", f"not found within {WALK_CAP} steps of a bounded search"

    def gain(
        self, base: Mapping[str, Any], name: str, measure: Callable[[Outcome], Decimal | None]
    ) -> tuple[Decimal, Change] | None:
        """The change of one input that raises ``measure`` the most (the nearest such value), if any.

        For progress towards a condition no single change satisfies: every
        switch point in both directions is visited (bounded by the walk's cap).
        """
        now = self.probe.outcome(base)
        start = measure(now) if not isinstance(now, str) else None
        if start is None:
            return None
        x0 = base[name]
        seen: list[tuple[Any, Outcome]] = []
        ty = self.inputs[name].type
        if isinstance(ty, n.SimpleType) and ty.name in ("int", "decimal", "date"):
            origin = days(x0) if isinstance(x0, dt.date) else x0
            for direction in (1, -1):
                self._walk(base, name, self.step_of(name, x0), direction, lambda o: False, seen)
            scored = [(m, -abs(x - origin), x) for x, o in seen if (m := measure(o)) is not None]
            if not scored:
                return None
            m, _, x = max(scored)
            after: Any = dt.date.fromordinal(int(x)) if isinstance(x0, dt.date) else tidy(x)
            method = SEARCH
        else:
            options = []
            alternatives: list[Any] = []
            if isinstance(ty, n.SimpleType) and ty.name == "bool":
                alternatives = [not x0]
            elif isinstance(ty, n.EnumType):
                alternatives = [v for v in ty.values if v != x0]
            elif isinstance(ty, n.ListType):
                alternatives = [[r for j, r in enumerate(x0) if j != i] for i in range(len(x0))]
            for alt in alternatives:
                o = self.probe.outcome({**base, name: alt})
                if not isinstance(o, str) and (m := measure(o)) is not None:
                    options.append((m, alt))
            if not options:
                return None
            m, after = max(options, key=lambda p: p[0])
            method = ENUMERATED
        if m <= start:
            return None
        return m - start, Change(name, self._label(name), x0, after, method)

    def _refine(
        self,
        base: Mapping[str, Any],
        name: str,
        fail: Decimal,
        good: Decimal,
        step: Decimal,
        ok: Callable[[Outcome], bool],
    ) -> Decimal:
        """Bisect on the input's grid between a failing and a passing value (rounding, nonlinearity)."""
        while abs(good - fail) > step:
            mid = snap((fail + good) / 2, step, 1 if good > fail else -1)
            if mid in (fail, good):
                break
            o = self.probe.outcome(self.at(base, name, mid))
            if not isinstance(o, str) and ok(o):
                good = mid
            else:
                fail = mid
        return good

    def other(
        self, base: Mapping[str, Any], name: str, ok: Callable[[Outcome], bool]
    ) -> Change | Limit | None:
        """Bool, enum and list inputs: every alternative tried (None for text)."""
        decl = self.inputs[name]
        x0 = base[name]
        label = self._label(name)
        if isinstance(decl.type, n.SimpleType) and decl.type.name == "bool":
            o = self.probe.outcome({**base, name: not x0})
            if not isinstance(o, str) and ok(o):
                return Change(name, label, x0, not x0, ENUMERATED)
            return Limit(name, f"{'false' if x0 else 'true'} does not do it either")
        if isinstance(decl.type, n.EnumType):
            values = decl.type.values
            here = values.index(x0) if x0 in values else 0
            for v in sorted(
                (v for v in values if v != x0), key=lambda v: (abs(values.index(v) - here), values.index(v))
            ):
                o = self.probe.outcome({**base, name: v})
                if not isinstance(o, str) and ok(o):
                    return Change(name, label, x0, v, ENUMERATED)
            return Limit(name, "no other value does it")
        if isinstance(decl.type, n.ListType):
            return self._list(base, name, decl.type, ok)
        return None

    def _list(
        self, base: Mapping[str, Any], name: str, ty: n.ListType, ok: Callable[[Outcome], bool]
    ) -> Change | Limit:
        items: list[dict[str, Any]] = list(base[name])
        label = self._label(name)
        tried = 0
        for k in range(1, min(len(items), MAX_REMOVED) + 1):
            for drop in itertools.combinations(range(len(items)), k):
                tried += 1
                if tried > MAX_COMBINATIONS:
                    break
                kept = [r for i, r in enumerate(items) if i not in drop]
                o = self.probe.outcome({**base, name: kept})
                if not isinstance(o, str) and ok(o):
                    removed = ", ".join(f"{name}[{i}] {_record_text(items[i])}" for i in drop)
                    return Change(name, label, items, kept, ENUMERATED, note=f"without {removed}")
        for record in _records(ty)[:MAX_COMBINATIONS]:
            o = self.probe.outcome({**base, name: [*items, record]})
            if not isinstance(o, str) and ok(o):
                return Change(
                    name,
                    label,
                    items,
                    [*items, record],
                    ENUMERATED,
                    note=f"with one more {_record_text(record)}",
                )
        return Limit(name, f"removing up to {MAX_REMOVED} records or adding one does not do it")

    def _label(self, name: str) -> str | None:
        return self.inputs[name].label


def ranking_keys(ruleset: n.Ruleset) -> tuple[n.SortKey, ...]:
    """The bloc ranking's keys: the ruleset's ``ranking``, else the default (`dsl.bloc.DEFAULT_RANKING`)."""
    from dsl.bloc import DEFAULT_RANKING  # lazily: dsl.bloc loads the rotation engine

    ranking = ruleset.first(n.Ranking)
    return ranking.keys if ranking is not None else DEFAULT_RANKING


def snap(x: Decimal, step: Decimal, direction: int) -> Decimal:
    """The first grid value at or beyond ``x`` in ``direction``."""
    units = rt.CTX.divide(x, step).to_integral_value(ROUND_CEILING if direction > 0 else ROUND_FLOOR)
    return rt.CTX.multiply(units, step)


def tidy(x: Decimal) -> Decimal:
    """``35.0`` → ``35``; ``0.50`` stays ``0.50``: whole numbers without a trailing exponent."""
    return x.quantize(rt.ONE) if x == x.to_integral_value() else x


def show_value(value: Any) -> str:
    """A value for people: decimals as computed (``90.40``, ``33.60``), long fractions to 4 places."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            value = value.quantize(Decimal("0.0001")).normalize()
        return format(value, "f")
    shown = value_to_json(value)
    return str(shown).lower() if isinstance(shown, bool) else str(shown)


def freeze(value: Any) -> Any:
    """A hashable key for inputs (cache keys): mappings in their own key order, lists as tuples.

    Inputs searched here are copies of one validated dict, so their key order
    is the same; a different order would only miss the cache, never mislead it.
    """
    if isinstance(value, Mapping):
        return tuple((k, v if type(v) not in _NESTED else freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(v if type(v) not in _NESTED else freeze(v) for v in value)
    return value


_NESTED = (list, tuple, dict)


def _record_text(record: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {value_to_json(v)}" for k, v in record.items()) + "}"


def _records(ty: n.ListType) -> list[dict[str, Any]]:
    """Every record of a list type whose fields are all enums or bools (none otherwise)."""
    choices: list[list[Any]] = []
    for f in ty.fields:
        if isinstance(f.type, n.EnumType):
            choices.append(list(f.type.values))
        elif isinstance(f.type, n.SimpleType) and f.type.name == "bool":
            choices.append([False, True])
        else:
            return []
    names = [f.name for f in ty.fields]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def short(x: Decimal) -> bool:
    """At most 6 decimal places: a value people write (0.905), not a repeating fraction."""
    exponent = x.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -6


def _limit_words(reasons: Sequence[str]) -> str:
    if not reasons:
        return "no value does it"
    return "; ".join(dict.fromkeys(reasons))
