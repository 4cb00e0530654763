"""Monotonicity lint: points that go the wrong way for an input marked ``more/less is better``.

This module owns the warnings of issue 9's lint. An input may declare its
direction (``input targets_met: int in 0..targets_assigned more is better``);
the lint then warns, at the criterion, when that criterion's points
*decrease* as the input increases (``more is better``) — or increase, for
``less is better`` — and, at the requirement, when a title requirement gets
*harder* to meet in the good direction. Penalty criteria count the other way
(their points are subtracted).

The analysis is static and conservative: a direction is computed for each
expression — up, down, flat (independent of the input) or unknown — by
rules that are sound for the language's monotone operations (sums,
differences, products and quotients by quantities of known sign, min, max,
clamp, round, floor, ceil, comparisons, and/or/not, ``if`` on a comparison
with constant branches, threshold tables whose rows step one way). Anything
else is "unknown" and never warned about: a warning means the wrong
direction is certain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl.checker import CheckedRuleset
from dsl.errors import WARNING, Diagnostic, EvaluationError
from dsl.interpreter import MapEnv, evaluate
from dsl.runtime import referenced_names, walk

__all__ = ["DOWN", "FLAT", "MIXED", "UP", "Directions", "directions", "lint"]

UP, DOWN, FLAT = 1, -1, 0
#: Certainly both ways: a table or ``if`` whose steps go against the rest of its values.
MIXED = 2
#: A direction: UP, DOWN, FLAT, MIXED, or None (unknown).
Dir = int | None


def _neg(d: Dir) -> Dir:
    return None if d is None else d if d == MIXED else -d


def _combine(*ds: Dir) -> Dir:
    """The direction of a sum of terms: every moving term must move the same way.

    Terms moving opposite ways may cancel, so that is "unknown" — except that a
    term going both ways (MIXED) beside unmoving ones stays MIXED.
    """
    if any(d is None for d in ds):
        return None
    moving = {d for d in ds if d != FLAT}
    if not moving:
        return FLAT
    if len(moving) == 1:
        return moving.pop()
    return None


def _steps(*ds: Dir) -> Dir:
    """The direction of a piecewise value from its pieces and the steps between them (certain)."""
    if any(d is None for d in ds):
        return None
    moving = {d for d in ds if d != FLAT}
    if not moving:
        return FLAT
    return moving.pop() if len(moving) == 1 else MIXED


def _times(d: Dir, sign: Dir) -> Dir:
    if d == FLAT:
        return FLAT
    if d is None or sign is None:
        return None
    if sign == 0:
        return FLAT
    return d if d == MIXED else d * sign


class Directions:
    """Directions of expressions with respect to one input, through lets, criteria, groups and score."""

    def __init__(self, checked: CheckedRuleset, var: str) -> None:
        self.rs = checked.ruleset
        self.var = var
        self.inputs = {i.name: i for i in self.rs.inputs}
        self.lets = {x.name: x for x in self.rs.of_kind(n.Let)}
        self.criteria: dict[str, tuple[n.Criterion, str]] = {}
        self.sections: dict[str, list[n.Criterion]] = {}
        for item in self.rs.items:
            if isinstance(item, (n.Group, n.Bonus, n.Penalty)):
                section = item.name if isinstance(item, n.Group) else type(item).__name__.lower()
                self.sections[section] = list(item.criteria)
                for c in item.criteria:
                    self.criteria[c.name] = (c, section)
        self.memo: dict[str, Dir] = {}

    # ------------------------------------------------------------ names
    def name(self, name: str) -> Dir:
        if name == self.var:
            return UP
        if name in self.memo:
            return self.memo[name]
        self.memo[name] = None  # a guard; the checker has rejected cycles already
        self.memo[name] = self._name(name)
        return self.memo[name]

    def _name(self, name: str) -> Dir:
        if name in self.lets:
            return self.of(self.lets[name].expr)
        if name in self.criteria:
            return self.of(self.criteria[name][0].expr)  # clamping and rounding keep a direction
        if name in self.sections:
            return _combine(*(self.name(c.name) for c in self.sections[name]))
        if name == "score":
            score = self.rs.first(n.ScoreDef)
            if score is not None:
                return self.of(score.expr)
            groups = [self.name(g.name) for g in self.rs.groups]
            return _combine(*groups, self.name("bonus"), _neg(self.name("penalty")))
        if name in ("bonus", "penalty"):
            return FLAT
        if name in self.inputs:
            return FLAT
        return None  # level, titles, rank, bloc_size: not ordered numbers here

    def sign(self, e: n.Expr) -> Dir:
        """The sign of an expression that does not depend on the input (None: unknown)."""
        if isinstance(e, n.Number):
            return (e.value > 0) - (e.value < 0)
        if isinstance(e, n.Unary) and e.op == "-":
            return _neg(self.sign(e.operand))
        if isinstance(e, n.Name):
            if e.id in self.criteria or e.id in self.sections or e.id in ("score", "bonus", "penalty"):
                return UP  # points are never negative
            if e.id in self.lets:
                return self.sign(self.lets[e.id].expr)
            if e.id in self.inputs:
                return self._input_sign(self.inputs[e.id])
            return None
        if isinstance(e, n.Binary) and e.op in ("*", "/"):
            a, b = self.sign(e.left), self.sign(e.right)
            return None if a is None or b is None else a * b
        if isinstance(e, n.Binary) and e.op == "+":
            a, b = self.sign(e.left), self.sign(e.right)
            return a if a == b else None
        if isinstance(e, n.Call) and e.func in ("min", "max", "clamp", "round", "floor", "ceil"):
            signs = {self.sign(a) for a in e.args[:1] if e.func in ("round", "floor", "ceil", "clamp")}
            signs |= {self.sign(a) for a in e.args} if e.func in ("min", "max") else set()
            return signs.pop() if len(signs) == 1 else None
        return None

    def _input_sign(self, i: n.Input) -> Dir:
        c = i.constraint
        if c is None or c.op not in (">=", ">", "in") or not isinstance(c.low, n.Number):
            return None
        return UP if c.low.value >= 0 else None

    # ------------------------------------------------------------ expressions
    def of(self, e: n.Expr) -> Dir:
        """The direction of ``e`` as the input increases."""
        if isinstance(e, (n.Number, n.BoolLit, n.DateLit, n.StringLit, n.EnumValue, n.FieldRef)):
            return FLAT
        if isinstance(e, n.Name):
            return self.name(e.id)
        if isinstance(e, n.Unary):
            return _neg(self.of(e.operand))
        if isinstance(e, n.Binary):
            return self._binary(e)
        if isinstance(e, n.IfExpr):
            return self._if(e)
        if isinstance(e, n.Table):
            return self._table(e)
        if isinstance(e, n.Call):
            return self._call(e)
        return FLAT if not self._depends(e) else None  # in [...], lists, bloc aggregates

    def _depends(self, e: n.Expr) -> bool:
        return any(isinstance(x, n.Name) and self.name(x.id) != FLAT for x in walk(e))

    def _binary(self, e: n.Binary) -> Dir:
        dl, dr = self.of(e.left), self.of(e.right)
        op = e.op
        if op == "+" or op in ("and", "or"):
            return _combine(dl, dr)
        if op == "-":
            return _combine(dl, _neg(dr))
        if op == "*":
            if dr == FLAT:
                return _times(dl, self.sign(e.right))
            if dl == FLAT:
                return _times(dr, self.sign(e.left))
            return None
        if op == "/":
            if dr == FLAT:
                return _times(dl, self.sign(e.right))
            if dl == FLAT:  # a constant over a growing (positive) divisor shrinks
                return _times(_neg(dr), self.sign(e.left))
            return None
        if op in (">", ">="):
            return _combine(dl, _neg(dr))
        if op in ("<", "<="):
            return _neg(_combine(dl, _neg(dr)))
        return FLAT if dl == FLAT and dr == FLAT else None  # == and !=

    def _if(self, e: n.IfExpr) -> Dir:
        dc, dt, de = self.of(e.cond), self.of(e.then), self.of(e.otherwise)
        if dc == FLAT:
            return _combine(dt, de)
        if dc is None:
            return None
        a, b = _constant(e.then), _constant(e.otherwise)
        if a is None or b is None:
            return None
        jump = (a > b) - (a < b)  # the value steps from `else` to `then` as the condition turns true
        return _steps(dt, de, _times(jump, dc) if dc != MIXED else None)

    def _table(self, e: n.Table) -> Dir:
        ds = self.of(e.subject)
        results = [r.result for r in e.rows] + ([e.default] if e.default is not None else [])
        if ds == FLAT:
            return _combine(*(self.of(r) for r in results))
        if ds is None or e.default is None:
            return None
        rows: list[tuple[Decimal, n.Expr]] = []
        ops = {r.op for r in e.rows}
        if not (ops <= {">=", ">"} or ops <= {"<=", "<"}):
            return None
        for r in e.rows:
            bound = _constant(r.values[0])
            if bound is None:
                return None
            rows.append((bound, r.result))
        upward = ops <= {">=", ">"}
        bounds = [b for b, _ in rows]
        if bounds != sorted(bounds, reverse=upward):
            return None  # rows out of order: some are unreachable; the checker has a say there
        # Regions from the low end of the subject to the high end, and the value on each side of each edge.
        regions = (
            [e.default, *(r for _, r in reversed(rows))] if upward else [*(r for _, r in rows), e.default]
        )
        edges = list(reversed(bounds)) if upward else bounds
        inner = self._subject_var(e.subject)
        steps: list[Dir] = []
        for region in regions:
            d = inner.of(region) if inner is not None else (FLAT if _constant(region) is not None else None)
            steps.append(d)
        for edge, low, high in zip(edges, regions, regions[1:], strict=False):
            a = _at(low, e.subject, edge)
            b = _at(high, e.subject, edge)
            if a is None or b is None:
                return None
            steps.append((b > a) - (b < a))
        return _times(_steps(*steps), ds)

    def _subject_var(self, subject: n.Expr) -> Directions | None:
        if not isinstance(subject, n.Name):
            return None
        other = Directions.__new__(Directions)
        other.__dict__.update(self.__dict__)
        other.var = subject.id
        other.memo = {}
        return other

    def _call(self, e: n.Call) -> Dir:
        args = [self.of(a) for a in e.args]
        if e.func in ("min", "max", "clamp"):
            return _combine(*args)
        if e.func in ("round", "floor", "ceil"):
            return args[0] if args and all(a == FLAT for a in args[1:]) else None
        return FLAT if all(a == FLAT for a in args) else None


def _constant(e: n.Expr) -> Decimal | None:
    """The value of an expression without names (a literal, -1.5, 30% * 2 …), else None."""
    if any(isinstance(x, (n.Name, n.FieldRef, n.Call, n.ListAgg, n.Table)) for x in walk(e)):
        return None
    try:
        v = evaluate(e, MapEnv({}))
    except EvaluationError:
        return None
    return v if isinstance(v, Decimal) else None


def _at(e: n.Expr, subject: n.Expr, value: Decimal) -> Decimal | None:
    """A table region's value at an edge: constants, or expressions of the subject name alone."""
    c = _constant(e)
    if c is not None:
        return c
    if not isinstance(subject, n.Name):
        return None
    if any(isinstance(x, n.Name) and x.id != subject.id for x in walk(e)):
        return None
    try:
        v = evaluate(e, MapEnv({subject.id: value}))
    except EvaluationError:
        return None
    return v if isinstance(v, Decimal) else None


# ------------------------------------------------------------------ the lint


def lint(checked: CheckedRuleset) -> list[Diagnostic]:
    """Monotonicity warnings for every input that declares ``more/less is better``."""
    out: list[Diagnostic] = []
    rs = checked.ruleset
    for inp in rs.inputs:
        if inp.better is None:
            continue
        if not (isinstance(inp.type, n.SimpleType) and inp.type.name in ("int", "decimal", "date")):
            out.append(
                Diagnostic(
                    WARNING,
                    f"'{inp.better} is better' on input '{inp.name}' has no meaning: "
                    "only number and date inputs have a direction",
                    inp.span,
                    "monotonicity",
                )
            )
            continue
        want = UP if inp.better == "more" else DOWN
        d = Directions(checked, inp.name)
        words = f"`{inp.name}` is marked `{inp.better} is better`"
        for c, section in d.criteria.values():
            effect = d.of(c.expr)
            if section == "penalty":
                effect = _neg(effect)
            if effect is not None and effect in (-want, MIXED):
                moves = "lose" if want == UP else "gain"
                what = "points (a penalty)" if section == "penalty" else "points"
                where = " at some values" if effect == MIXED else ""
                out.append(
                    Diagnostic(
                        WARNING,
                        f"criterion '{c.name}' {_verb(section, want)}{where} as `{inp.name}` increases, "
                        f"but {words}",
                        c.span,
                        "monotonicity",
                        f"units {moves} {what} by doing better; check the sign of the expression",
                    )
                )
        for title, req in _requires(rs):
            # Only requirements that read the input itself (or through lets): one reading `score`
            # would merely repeat the criterion's warning.
            if _reads(d, req.expr, inp.name) and d.of(req.expr) == -want:
                out.append(
                    Diagnostic(
                        WARNING,
                        f"a requirement of title '{title}' gets harder to meet as `{inp.name}` "
                        f"{'increases' if want == UP else 'decreases'}, but {words}",
                        req.span,
                        "monotonicity",
                    )
                )
    return sorted(out, key=Diagnostic.sort_key)


def _reads(d: Directions, e: n.Expr, name: str) -> bool:
    seen: set[str] = set()
    stack = referenced_names(e, {})
    while stack:
        x = stack.pop()
        if x == name:
            return True
        if x in d.lets and x not in seen:
            seen.add(x)
            stack += referenced_names(d.lets[x].expr, {})
    return False


def _verb(section: str, want: int) -> str:
    if section == "penalty":
        return "deducts more" if want == UP else "deducts less"
    return "loses points" if want == UP else "gains points"


def _requires(rs: n.Ruleset) -> Iterator[tuple[str, n.Require]]:
    for t in rs.titles:
        for r in t.requires:
            yield t.name, r


def directions(checked: CheckedRuleset, var: str) -> Mapping[str, Any]:
    """Every criterion's direction with respect to ``var`` (for tools and tests)."""
    d = Directions(checked, var)
    return {name: d.of(c.expr) for name, (c, _) in d.criteria.items()}
