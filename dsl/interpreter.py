"""The reference interpreter: evaluates ruleset expressions by walking the AST.

This module owns two things:

* `evaluate(expr, env)`, the general evaluator other stages use (title
  requirements at bloc level, rotation conditions, test expectations, input
  constraint bounds). Names come from ``env.lookup``; every call is offered
  to ``env.call`` first (rotation's ``rank(unit)``…), which returns
  `NotImplemented` to fall back to the builtins.
* `UnitInterpreter`, a unit evaluator with exactly the semantics of the
  compiled one (`dsl.compiler`), kept small and obvious so a property test can
  hold the fast evaluator to it.

Values: `Decimal` numbers, ``bool``, ``str`` (text, enum and level values,
units), `datetime.date`, lists of record dicts. All arithmetic runs in
`dsl.runtime.CTX`, installed for the duration of each call.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from dsl import nodes as n
from dsl import runtime as rt
from dsl.errors import EvaluationError


class Env(Protocol):
    """Where an expression's names and calls are resolved."""

    def lookup(self, name: str) -> Any: ...

    def call(self, name: str, args: tuple[n.Expr, ...], env: Env) -> Any: ...


class MapEnv:
    """An `Env` over a mapping of names to values; bloc aggregates from ``bloc`` when given.

    ``enum_values`` lets bare enum/level values resolve in an unchecked AST
    (the checker normally rewrites them to `EnumValue`).
    """

    def __init__(
        self,
        values: Mapping[str, Any],
        *,
        bloc: Mapping[n.Call, Decimal] | None = None,
        enum_values: frozenset[str] = frozenset(),
        rounding_mode: str = decimal.ROUND_HALF_UP,
    ) -> None:
        self.values = values
        self.bloc = bloc
        self.enum_values = enum_values
        self.rounding_mode = rounding_mode

    def lookup(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            if name in self.enum_values:
                return name
            raise EvaluationError(f"unknown name '{name}'") from None

    def call(self, name: str, args: tuple[n.Expr, ...], env: Env) -> Any:
        if name in rt.BLOC_AGGREGATES:
            if self.bloc is None:
                raise rt.need_bloc(f"{name}()")
            call = n.Call(name, args)
            if call not in self.bloc:
                raise EvaluationError(f"{name}() was not computed for this bloc")
            return self.bloc[call]
        return NotImplemented


class RecordEnv:
    """The scope inside ``where``/``of``: the record's fields, then the enclosing scope."""

    def __init__(self, parent: Env, record: Mapping[str, Any]) -> None:
        self.parent = parent
        self.record = record
        self.rounding_mode = getattr(parent, "rounding_mode", decimal.ROUND_HALF_UP)

    def lookup(self, name: str) -> Any:
        if name in self.record:
            return self.record[name]
        return self.parent.lookup(name)

    def call(self, name: str, args: tuple[n.Expr, ...], env: Env) -> Any:
        return self.parent.call(name, args, env)


def evaluate(expr: n.Expr, env: Env) -> Any:
    """The value of ``expr`` in ``env`` (exact decimal arithmetic in `dsl.runtime.CTX`).

    Raises `EvaluationError` (without ``where``; callers add it) for division
    by zero, an unmatched table, a bloc aggregate outside a bloc, …
    """
    with decimal.localcontext(rt.CTX):
        try:
            return _eval(expr, env)
        except EvaluationError:
            raise
        except rt.Failure as exc:
            raise EvaluationError(str(exc), span=expr.span) from None
        except ArithmeticError as exc:
            raise EvaluationError(rt.arithmetic_message(exc), span=expr.span) from None


def _eval(e: n.Expr, env: Env) -> Any:
    if isinstance(e, (n.Number, n.BoolLit, n.StringLit, n.DateLit, n.EnumValue)):
        return e.value
    if isinstance(e, n.Name):
        return env.lookup(e.id)
    if isinstance(e, n.FieldRef):
        return env.lookup(e.name)
    if isinstance(e, n.Attribute):
        return env.lookup(f"{e.obj}.{e.attr}")
    if isinstance(e, n.Unary):
        v = _eval(e.operand, env)
        return (not v) if e.op == "not" else -v
    if isinstance(e, n.Binary):
        return _binary(e, env)
    if isinstance(e, n.InList):
        operand = _eval(e.operand, env)
        return operand in tuple(_eval(o, env) for o in e.options)
    if isinstance(e, n.IfExpr):
        return _eval(e.then if _eval(e.cond, env) else e.otherwise, env)
    if isinstance(e, n.Table):
        return table(e, env)[0]
    if isinstance(e, n.Call):
        return _call(e, env)
    if isinstance(e, n.ListAgg):
        return _list_agg(e, env)
    if isinstance(e, n.ListValue):
        return [_eval(i, env) for i in e.items]
    if isinstance(e, n.RecordValue):
        return {k: _eval(v, env) for k, v in e.fields}
    raise EvaluationError(f"cannot evaluate {type(e).__name__}", span=getattr(e, "span", None))


def _binary(e: n.Binary, env: Env) -> Any:
    left = _eval(e.left, env)
    if e.op == "and":
        return left and _eval(e.right, env)
    if e.op == "or":
        return left or _eval(e.right, env)
    right = _eval(e.right, env)
    op = e.op
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    return _compare(op, left, right)


def table(e: n.Table, env: Env) -> tuple[Any, int]:
    """A table's value and the 1-based row that matched (0: the ``else``)."""
    subject = _eval(e.subject, env)
    for i, row in enumerate(e.rows, start=1):
        if row.op == "in":
            hit = subject in tuple(_eval(v, env) for v in row.values)
        else:
            hit = _compare(row.op, subject, _eval(row.values[0], env))
        if hit:
            return _eval(row.result, env), i
    if e.default is None:
        raise rt.Failure("no row of the table matched the value")
    return _eval(e.default, env), 0


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    raise EvaluationError(f"unknown comparison {op}")


def _call(e: n.Call, env: Env) -> Any:
    hooked = env.call(e.func, e.args, env)
    if hooked is not NotImplemented:
        return hooked
    if e.func in rt.BLOC_AGGREGATES:
        raise rt.need_bloc(f"{e.func}()")
    args = [_eval(a, env) for a in e.args]
    f = e.func
    if f == "min" and args:
        return min(args)
    if f == "max" and args:
        return max(args)
    if f == "clamp" and len(args) == 3:
        return rt.clamp(args[0], args[1], args[2])
    if f == "round" and len(args) == 2:
        return rt.round_to(args[0], args[1], getattr(env, "rounding_mode", decimal.ROUND_HALF_UP))
    if f == "floor" and len(args) == 1:
        return rt.floor(args[0])
    if f == "ceil" and len(args) == 1:
        return rt.ceil(args[0])
    if f == "abs" and len(args) == 1:
        return abs(args[0])
    raise EvaluationError(f"unknown function '{f}' with {len(args)} argument(s)", span=e.span)


def _list_agg(e: n.ListAgg, env: Env) -> Any:
    items = _eval(e.source, env)
    if e.func == "count":
        count = 0
        for rec in items:
            if e.where is None or _eval(e.where, RecordEnv(env, rec)):
                count += 1
        return Decimal(count)
    if e.func == "any":
        return any(e.where is None or _eval(e.where, RecordEnv(env, rec)) for rec in items)
    if e.func == "all":
        return all(e.where is None or _eval(e.where, RecordEnv(env, rec)) for rec in items)
    if e.of is None:
        raise EvaluationError("sum() needs `of` and an expression", span=e.span)
    total = rt.ZERO
    for rec in items:
        inner = RecordEnv(env, rec)
        if e.where is None or _eval(e.where, inner):
            total = total + _eval(e.of, inner)
    return total


# ------------------------------------------------------------------ unit evaluation


class PlanEnv(MapEnv):
    """A ruleset's scope over ``values`` (a unit's names), then enum values; bloc aggregates by plan index."""

    def __init__(self, plan: rt.Plan, values: Mapping[str, Any], bloc: rt.BlocAggregates | None) -> None:
        super().__init__(values, enum_values=plan.enum_values, rounding_mode=plan.mode)
        self.plan = plan
        self.bloc_values = bloc

    def call(self, name: str, args: tuple[n.Expr, ...], env: Env) -> Any:
        if name in rt.BLOC_AGGREGATES:
            if self.bloc_values is None:
                raise rt.need_bloc(f"{name}()")
            return self.bloc_values.get(self.plan, n.Call(name, args))
        return NotImplemented


class UnitInterpreter:
    """Scores one unit by walking the AST; returns what the compiled ``_unit_explain`` returns."""

    def __init__(self, plan: rt.Plan) -> None:
        self.plan = plan

    def _at(self, where: str, span: n.Span, expr: n.Expr, env: Env) -> Any:
        try:
            return evaluate(expr, env)
        except EvaluationError as exc:
            if exc.where:
                raise
            raise EvaluationError(exc.message, where=where, span=span) from None

    def terms(self, inputs: Mapping[str, Any]) -> tuple[Any, ...]:
        """One unit's term of every bloc aggregate (the compiled ``_terms``)."""
        plan = self.plan
        values: dict[str, Any] = dict(inputs)
        env = PlanEnv(plan, values, None)
        needed: set[str] = set()
        stack = [x for c in plan.aggregates for a in c.args for x in rt.referenced_names(a, plan.list_fields)]
        while stack:
            name = stack.pop()
            if plan.kinds.get(name) == "let" and name not in needed:
                needed.add(name)
                stack.extend(rt.referenced_names(plan.lets[name].expr, plan.list_fields))
        for kind, name in plan.order:
            if kind == "let" and name in needed:
                values[name] = self._at(
                    plan.where(kind, name), plan.spans[(kind, name)], plan.lets[name].expr, env
                )
        return tuple(self._at(f"{c.func}()", c.span, c.args[0], env) for c in plan.aggregates)

    def score(self, inputs: Mapping[str, Any], bloc: rt.BlocAggregates | None) -> tuple[Any, ...]:
        plan = self.plan
        values: dict[str, Any] = dict(inputs)
        env = PlanEnv(plan, values, bloc)
        if plan.score_needs_bloc and bloc is None:
            raise rt.need_bloc("scoring")
        criteria = {c.name: c for c, _ in plan.criteria}
        raws: dict[str, Any] = {}
        rows: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        steps: list[tuple[Any, Any]] = [(None, None)] * len(plan.levels)
        for kind, name in plan.order:
            where = plan.where(kind, name)
            span = plan.spans.get((kind, name), n.NO_SPAN)
            if kind == "let":
                values[name] = self._at(where, span, plan.lets[name].expr, env)
            elif kind == "criterion":
                c = criteria[name]
                if isinstance(c.expr, n.Table):
                    raw, row = self._table(where, span, c.expr, env)
                    rows[name] = row
                else:
                    raw = self._at(where, span, c.expr, env)
                raws[name] = raw
                p = raw if raw > rt.ZERO else rt.ZERO
                if c.max is not None and p > c.max.value:
                    p = c.max.value
                values[name] = self._quantize(p, where, span)
            elif kind in ("group", "bonus", "penalty"):
                section: n.Group | n.Bonus | n.Penalty | None
                if kind == "group":
                    section = next(x for x in plan.groups if x.name == name)
                else:
                    section = plan.bonus if kind == "bonus" else plan.penalty
                key = name or kind
                if section is None:
                    totals[key] = values[key] = rt.ZERO
                    continue
                total = _sum([values[c.name] for c in section.criteria])
                totals[key] = total
                mx = section.max.value if section.max is not None else None
                values[key] = total if mx is None or total <= mx else mx
            elif kind == "score":
                if plan.score_def is not None:
                    raw = self._at("score", span, plan.score_def.expr, env)
                    values["score"] = self._quantize(raw, "score", span)
                else:
                    with decimal.localcontext(rt.CTX):
                        s = (
                            _sum([values[g.name] for g in plan.groups] + [values["bonus"]])
                            - values["penalty"]
                        )
                    values["score"] = self._quantize(s if s > rt.ZERO else rt.ZERO, "score", span)
            elif kind == "level":
                values["level"] = self._classify(env, steps)
        titles = self._titles(values, bloc)
        crit = {c.name: values[c.name] for c, s in plan.criteria if s not in ("bonus", "penalty")}
        groups = {g.name: values[g.name] for g in plan.groups}
        computed = [k for k in plan.kinds if plan.kinds[k] in ("let", "criterion", "group")]
        ordered = {**inputs, **{k: values[k] for k in computed}, **{w: values[w] for w in rt.SCORE_NAMES}}
        return (
            ordered,
            crit,
            groups,
            values["bonus"],
            values["penalty"],
            values["score"],
            values["level"],
            titles,
            raws,
            rows,
            totals,
            tuple(steps),
        )

    def _quantize(self, value: Decimal, where: str, span: n.Span) -> Decimal:
        try:
            return value.quantize(self.plan.quantum, self.plan.mode, rt.CTX)
        except ArithmeticError as exc:
            raise EvaluationError(rt.arithmetic_message(exc), where=where, span=span) from None

    def _table(self, where: str, span: n.Span, e: n.Table, env: Env) -> tuple[Any, int]:
        try:
            with decimal.localcontext(rt.CTX):
                return table(e, env)
        except EvaluationError as exc:
            raise EvaluationError(exc.message, where=where, span=span) from None
        except rt.Failure as exc:
            raise EvaluationError(str(exc), where=where, span=span) from None
        except ArithmeticError as exc:
            raise EvaluationError(rt.arithmetic_message(exc), where=where, span=span) from None

    def _classify(self, env: Env, steps: list[tuple[Any, Any]]) -> str:
        levels = self.plan.levels
        if not levels:
            return ""
        for i, lv in enumerate(levels):
            if lv.when is None:
                return lv.name
            where = f"level '{lv.name}'"
            w = self._at(where, lv.span, lv.when, env)
            u = None
            if w and lv.unless is not None:
                u = self._at(where, lv.span, lv.unless, env)
            steps[i] = (w, u)
            if w and not u:
                return lv.name
        raise EvaluationError("no classification level applies", where="classify", span=n.NO_SPAN)

    def _titles(
        self, values: Mapping[str, Any], bloc: rt.BlocAggregates | None
    ) -> tuple[tuple[str, tuple[bool | None, ...]], ...]:
        out: list[tuple[str, tuple[bool | None, ...]]] = []
        eligibility: dict[str, bool | None] = {}
        for tp in self.plan.titles:
            env = PlanEnv(self.plan, {**values, **eligibility}, bloc)
            passed: list[bool | None] = []
            for rp in tp.requires:
                if (
                    rp.needs_rank
                    or any(eligibility[t] is None for t in rp.titles)
                    or (rp.has_aggregate and bloc is None)
                ):
                    passed.append(None)
                else:
                    passed.append(self._at(f"title '{tp.title.name}'", rp.require.span, rp.require.expr, env))
            status = rt_status(passed)
            out.append((status, tuple(passed)))
            eligibility[tp.title.name] = {"eligible": True, "not_eligible": False}.get(status)
        return tuple(out)


def rt_status(passed: list[bool | None] | tuple[bool | None, ...]) -> str:
    """A unit-level title status from its requirements (a failure beats undecided)."""
    if any(p is False for p in passed):
        return "not_eligible"
    if any(p is None for p in passed):
        return "undecided"
    return "eligible"


def _sum(values: list[Decimal]) -> Decimal:
    """Left-to-right sum in `CTX`, as the generated ``a + b + c`` computes it (0 when empty)."""
    if not values:
        return rt.ZERO
    with decimal.localcontext(rt.CTX):
        total = values[0]
        for v in values[1:]:
            total = total + v
    return total
