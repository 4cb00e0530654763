"""Synthetic bloc cases for regression corpora: deterministic, valid, of any size.

This module owns `generate_cases`: from a ruleset's declared inputs it makes
``blocs`` CASE mappings of ``units`` members each, every submission valid
for that ruleset — types respected, constraints met (bounds naming other
inputs are evaluated in dependency order), list inputs mostly empty — and
spread enough to reach every level and title. The same ruleset, sizes and
seed always give the same cases, byte for byte (`dump_case`): a corpus can
be regenerated instead of stored.

How values are drawn (documented in docs/versions.md): numbers that other
inputs use as a bound (``members``, ``voters``) range 5–60; other open-ended
counts 0–10; a bounded value lands in the top 30% of its range six times in
ten (units mostly meet their targets); an input with a default is left out
one time in four (so defaults are exercised) and otherwise takes its default
four times in five; enum values are weighted towards the first (rulesets
list the best first); dates fall in the first quarter of the effective
period.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl.errors import ThiduaError
from dsl.interpreter import MapEnv, evaluate

_CENT = Decimal("0.01")


class GenerationError(ThiduaError):
    """The ruleset's inputs cannot be generated (a bound cycle, an empty range)."""


def generate_cases(ruleset: n.Ruleset, *, blocs: int, units: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``blocs`` CASE mappings of ``units`` members each, lazily; deterministic in ``seed``."""
    if blocs < 0 or units < 1:
        raise GenerationError("need at least one unit per bloc and no negative number of blocs")
    gen = _InputGenerator(ruleset)
    eff = ruleset.first(n.Effective)
    year = eff.start.year if isinstance(eff, n.Effective) else 2023
    for b in range(1, blocs + 1):
        # One generator per bloc, seeded from (seed, bloc): bloc k is the same whatever the corpus size.
        rng = random.Random(f"{seed}:{b}")
        members = [f"b{b:04d}_u{u:03d}" for u in range(1, units + 1)]
        order = members[:]
        rng.shuffle(order)
        current = {"leader": order[0]}
        if units > 1:
            current["deputy"] = order[1]
        history = [{"period": str(year - k), "leader": order[k % units]} for k in (1, 2)]
        yield {
            "ruleset": f"{ruleset.name}@{ruleset.version}",
            "bloc": f"bloc{b:04d}",
            "period": str(year),
            "members": members,
            "current": current,
            "elected": {},
            "history": history,
            "submissions": [{"unit": m, "inputs": gen.inputs(rng)} for m in members],
        }


class _InputGenerator:
    """Draws one submission's inputs; the declaration analysis is done once per ruleset."""

    def __init__(self, ruleset: n.Ruleset) -> None:
        self.decls = {i.name: i for i in ruleset.inputs}
        self.order = _dependency_order(self.decls)
        self.bounds_of_others = {
            name for i in self.decls.values() if i.constraint is not None for name in _names(i.constraint)
        }
        eff = ruleset.first(n.Effective)
        self.dates = (
            (eff.start, eff.end)
            if isinstance(eff, n.Effective)
            else (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
        )
        self.enum_values = frozenset(
            v for i in self.decls.values() if isinstance(i.type, n.EnumType) for v in i.type.values
        )
        self.lower_is_better = _lower_is_better(ruleset, set(self.decls))

    def inputs(self, rng: random.Random) -> dict[str, Any]:
        # One "quality" per unit: its inputs are mostly good together or mostly poor together,
        # which spreads units over every level instead of averaging them all to the middle.
        self.quality = rng.betavariate(4, 1.5)
        values: dict[str, Any] = {}
        left_out: set[str] = set()
        for name in self.order:
            decl = self.decls[name]
            if decl.default is not None:
                if rng.random() < 0.25:
                    # Left out: the ruleset's default applies, but later bounds still need its value.
                    left_out.add(name)
                    values[name] = self._default(decl)
                    continue
                if rng.random() < 0.8:
                    values[name] = self._default(decl)
                    continue
            values[name] = self._draw(decl, rng, values)
        # In declaration order, as a person would write the submission.
        return {name: values[name] for name in self.decls if name not in left_out}

    def _default(self, decl: n.Input) -> Any:
        assert decl.default is not None
        return _literal(decl.default, self.enum_values)

    def _draw(self, decl: n.Input, rng: random.Random, values: Mapping[str, Any]) -> Any:
        t = decl.type
        if isinstance(t, n.EnumType):
            return _weighted(rng, t.values)
        if isinstance(t, n.ListType):
            count = 0 if rng.random() < 0.85 else rng.randint(1, 3)
            return [{f.name: _field_value(f.type, rng) for f in t.fields} for _ in range(count)]
        kind = t.name
        if kind == "bool":
            return rng.random() < 0.8
        if kind == "text":
            return rng.choice(["a", "b", "c", "d"])
        if kind == "date":
            start, end = self.dates
            span = max(0, min(60, (end - start).days))
            return (start + dt.timedelta(days=rng.randint(0, span))).isoformat()
        return self._number(decl, kind == "int", rng, values)

    def _number(self, decl: n.Input, integral: bool, rng: random.Random, values: Mapping[str, Any]) -> Any:
        step = Decimal(1) if integral else _CENT
        wide = decl.name in self.bounds_of_others
        lo: Decimal | None = None
        hi: Decimal | None = None
        c = decl.constraint
        if c is not None:
            low = self._bound(c.low, values, decl)
            if c.op == "in":
                assert c.high is not None
                lo, hi = low, self._bound(c.high, values, decl)
            elif c.op == ">=":
                lo = low
            elif c.op == ">":
                lo = low + step
            elif c.op == "<=":
                hi = low
            else:
                hi = low - step
        if integral:
            lo = lo.to_integral_value(rounding="ROUND_CEILING") if lo is not None else None
            hi = hi.to_integral_value(rounding="ROUND_FLOOR") if hi is not None else None
        if lo is None:
            lo = (hi - 10) if hi is not None else Decimal(0)
        if hi is None:
            hi = lo + (55 if wide else 10)
            if wide:
                lo = max(lo, Decimal(5)) if lo <= 5 else lo
        if hi < lo:
            raise GenerationError(f"input '{decl.name}': its range {lo}..{hi} is empty for the values drawn")
        steps = int((hi - lo) / step)
        if wide:
            pick = rng.randint(0, steps)
        else:
            q = min(1.0, max(0.0, self.quality + rng.gauss(0, 0.15)))
            if decl.name in self.lower_is_better:
                q = 1 - q
            pick = round(q * steps)
        value = lo + pick * step
        return int(value) if integral else value.quantize(_CENT)

    def _bound(self, e: n.Expr, values: Mapping[str, Any], decl: n.Input) -> Decimal:
        # The usual bounds (a number, another input) without the interpreter: a corpus of
        # 100,000 submissions draws a few hundred thousand of them.
        if isinstance(e, n.Number):
            return e.value
        if isinstance(e, n.Name) and isinstance(values.get(e.id), (int, Decimal)):
            return Decimal(values[e.id])
        try:
            v = evaluate(
                e, MapEnv({k: _as_number(x) for k, x in values.items()}, enum_values=self.enum_values)
            )
        except ThiduaError as exc:
            raise GenerationError(f"input '{decl.name}': cannot evaluate its bound: {exc}") from None
        if not isinstance(v, Decimal):
            raise GenerationError(f"input '{decl.name}': its bound is not a number")
        return v


def _lower_is_better(ruleset: n.Ruleset, inputs: set[str]) -> set[str]:
    """Inputs that only ever count against a unit: subtracted, or divided by (``6 - 2 * violations``).

    A syntactic reading of the criteria, lets and score; enough to draw
    realistic values (few late reports, many members advanced), never used
    to decide anything.
    """
    signs: dict[str, set[int]] = {}

    def walk(e: n.Expr, sign: int) -> None:
        if isinstance(e, n.Name) and e.id in inputs:
            signs.setdefault(e.id, set()).add(sign)
        elif isinstance(e, n.Binary):
            walk(e.left, sign)
            walk(e.right, -sign if e.op in ("-", "/") else sign)
        elif isinstance(e, n.Unary):
            walk(e.operand, -sign if e.op == "-" else sign)
        elif isinstance(e, n.IfExpr):
            walk(e.then, sign)
            walk(e.otherwise, sign)
        elif isinstance(e, n.Call):
            for a in e.args:
                walk(a, sign)
        elif isinstance(e, n.Table):
            walk(e.subject, sign)

    for item in ruleset.items:
        if isinstance(item, n.Let):
            walk(item.expr, 1)
        elif isinstance(item, (n.Group, n.Bonus)):
            for c in item.criteria:
                walk(c.expr, 1)
        elif isinstance(item, n.Penalty):
            for c in item.criteria:
                walk(c.expr, -1)
        elif isinstance(item, n.ScoreDef):
            walk(item.expr, 1)
    return {name for name, found in signs.items() if found == {-1}}


def _as_number(value: Any) -> Any:
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _weighted(rng: random.Random, options: tuple[str, ...]) -> str:
    weights = [len(options) - i for i in range(len(options))]
    return rng.choices(options, weights=weights)[0]


def _field_value(t: n.TypeExpr, rng: random.Random) -> Any:
    if isinstance(t, n.EnumType):
        return rng.choice(t.values)
    if isinstance(t, n.ListType):
        return []
    return {
        "int": rng.randint(0, 5),
        "decimal": Decimal(rng.randint(0, 500)) / 100,
        "bool": rng.random() < 0.5,
    }.get(t.name, "x" if t.name == "text" else "2023-06-30")


def _literal(e: n.Expr, enum_values: frozenset[str]) -> Any:
    if isinstance(e, n.Number):
        return int(e.value) if e.kind == "int" else e.value
    if isinstance(e, n.BoolLit):
        return e.value
    if isinstance(e, n.StringLit):
        return e.value
    if isinstance(e, n.DateLit):
        return e.value.isoformat()
    if isinstance(e, (n.Name, n.EnumValue)):
        return e.id if isinstance(e, n.Name) else e.value
    if isinstance(e, n.ListValue):
        return [_literal(x, enum_values) for x in e.items]
    if isinstance(e, n.RecordValue):
        return {k: _literal(v, enum_values) for k, v in e.fields}
    raise GenerationError(f"cannot use the default {type(e).__name__} as a value")


def _names(c: n.Constraint) -> set[str]:
    out: set[str] = set()
    for e in (c.low, c.high):
        if e is not None:
            _collect(e, out)
    return out


def _collect(e: n.Expr, out: set[str]) -> None:
    if isinstance(e, n.Name):
        out.add(e.id)
    elif isinstance(e, n.Binary):
        _collect(e.left, out)
        _collect(e.right, out)
    elif isinstance(e, n.Unary):
        _collect(e.operand, out)
    elif isinstance(e, n.Call):
        for a in e.args:
            _collect(a, out)
    elif isinstance(e, n.IfExpr):
        for x in (e.cond, e.then, e.otherwise):
            _collect(x, out)


def _dependency_order(inputs: Mapping[str, n.Input]) -> list[str]:
    """Inputs ordered so that every bound is drawn before the inputs it bounds."""
    deps = {
        name: {d for d in (_names(i.constraint) if i.constraint else set()) if d in inputs and d != name}
        for name, i in inputs.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise GenerationError(f"input bounds form a cycle: {' → '.join((*trail, name))}")
        state[name] = 1
        for d in sorted(deps[name]):
            visit(d, (*trail, name))
        state[name] = 2
        order.append(name)

    for name in inputs:
        visit(name, ())
    return order


# ------------------------------------------------------------------ writing


def dump_case(case: Any) -> str:
    """One case as compact JSON text: decimals written as exact JSON numbers, never via float."""
    return "".join(_dump(case))


def _dump(value: Any) -> Iterator[str]:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        yield json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Decimal):
        yield format(value, "f")
    elif isinstance(value, Mapping):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(str(k), ensure_ascii=False) + ":"
            yield from _dump(v)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _dump(v)
        yield "]"
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
