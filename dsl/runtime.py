"""What evaluation needs at run time, shared by the compiled evaluator and the interpreter.

This module owns the semantics both evaluators must agree on (SPEC §1.4–1.6):
the one decimal context, rounding modes, the evaluation *plan* of a checked
ruleset (which names exist, in which order they are computed, which bloc
aggregates occur, what each title requirement needs), the small helpers
generated code calls, and `CompiledEvaluator`, which holds a ruleset's
generated module at run time (compiling its functions on first use) and maps
errors raised inside it back to ruleset lines. Keeping the semantics here is
what lets a property test demand that `dsl.compiler` and `dsl.interpreter`
produce identical results.
"""

from __future__ import annotations

import decimal
import functools
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from dsl import inputs
from dsl import nodes as n
from dsl.errors import EvaluationError, source_lines

#: The one context for all ruleset arithmetic: 28 significant digits, banker's rounding
#: for intermediate results (as Python's default), traps on division by zero and overflow.
#: Evaluators install it explicitly; the calling thread's ambient context never decides.
CTX = decimal.Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    traps=[decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow],
)

ROUNDING_MODES: dict[str, str] = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}

ZERO = Decimal(0)
ONE = Decimal(1)

#: The names a ruleset's scoring scope provides besides its declarations.
SCORE_NAMES = ("bonus", "penalty", "score", "level")
#: Names only a bloc can give a value to (SPEC §1.6).
BLOC_NAMES = frozenset({"rank", "bloc_size"})
BLOC_AGGREGATES = frozenset({"bloc_max", "bloc_min", "bloc_sum", "bloc_avg", "bloc_count"})
BUILTINS = frozenset({"min", "max", "clamp", "round", "floor", "ceil", "abs"})


class Failure(Exception):
    """A condition evaluation detects itself (no table row matched); mapped to `EvaluationError`."""


def quantum(places: int) -> Decimal:
    """The exponent `Decimal.quantize` needs for ``places`` decimal places (2 → ``0.01``)."""
    return ONE.scaleb(-places)


def round_to(value: Decimal, places: Decimal, mode: str) -> Decimal:
    """``round(x, places)`` of the language: ``places`` must be a whole number from 0 to 28."""
    if places != places.to_integral_value() or not 0 <= places <= 28:
        raise EvaluationError(f"round() needs a whole number of places from 0 to 28, got {places}")
    return value.quantize(quantum(int(places)), mode, CTX)


def floor(value: Decimal) -> Decimal:
    return value.to_integral_value(ROUND_FLOOR, CTX)


def ceil(value: Decimal) -> Decimal:
    return value.to_integral_value(ROUND_CEILING, CTX)


def clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """``clamp(x, lo, hi)``: the floor wins if the bounds cross (as ``min(max(x, lo), hi)`` reads)."""
    if value < low:
        value = low
    if value > high:
        value = high
    return value


def arithmetic_message(exc: BaseException) -> str:
    """Words for a decimal signal raised while evaluating."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    # The C decimal module signals 0/0 as InvalidOperation carrying DivisionUndefined.
    signals = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    if any(isinstance(s, type) and issubclass(s, decimal.DivisionUndefined) for s in signals):
        return "division by zero"
    if isinstance(exc, decimal.Overflow):
        return "a number grew beyond the decimal range"
    if isinstance(exc, decimal.InvalidOperation):
        return "a result has more than 28 significant digits to round"
    return f"cannot evaluate: {exc}"


# ------------------------------------------------------------------ AST walking


def children(e: n.Expr) -> Iterator[n.Expr]:
    """The direct sub-expressions of ``e``, in evaluation order."""
    if isinstance(e, n.Unary):
        yield e.operand
    elif isinstance(e, n.Binary):
        yield e.left
        yield e.right
    elif isinstance(e, n.InList):
        yield e.operand
        yield from e.options
    elif isinstance(e, n.IfExpr):
        yield e.cond
        yield e.then
        yield e.otherwise
    elif isinstance(e, n.Table):
        yield e.subject
        for row in e.rows:
            yield from row.values
            yield row.result
        if e.default is not None:
            yield e.default
    elif isinstance(e, n.Call):
        yield from e.args
    elif isinstance(e, n.ListAgg):
        yield e.source
        if e.where is not None:
            yield e.where
        if e.of is not None:
            yield e.of
    elif isinstance(e, n.ListValue):
        yield from e.items
    elif isinstance(e, n.RecordValue):
        for _, v in e.fields:
            yield v


def walk(e: n.Expr) -> Iterator[n.Expr]:
    """Every node of ``e``, pre-order."""
    yield e
    for c in children(e):
        yield from walk(c)


def bloc_calls(e: n.Expr) -> Iterator[n.Call]:
    for node in walk(e):
        if isinstance(node, n.Call) and node.func in BLOC_AGGREGATES:
            yield node


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True, slots=True)
class RequirePlan:
    """What one title requirement needs: the names it reads, in first-use order."""

    require: n.Require
    names: tuple[str, ...]
    titles: tuple[str, ...]
    needs_rank: bool
    has_aggregate: bool
    text: str


@dataclass(frozen=True, slots=True)
class TitlePlan:
    title: n.Title
    requires: tuple[RequirePlan, ...]


@dataclass(frozen=True)
class Plan:
    """Everything an evaluator needs to know about a checked ruleset, computed once.

    ``order`` lists computed nodes as ``(kind, name)`` in a valid evaluation
    order: kinds are let, criterion, group, bonus, penalty, score, level.
    """

    ruleset: n.Ruleset
    places: int
    mode: str
    quantum: Decimal
    inputs: tuple[n.Input, ...]
    kinds: Mapping[str, str]
    lets: Mapping[str, n.Let]
    criteria: tuple[tuple[n.Criterion, str], ...]
    groups: tuple[n.Group, ...]
    bonus: n.Bonus | None
    penalty: n.Penalty | None
    score_def: n.ScoreDef | None
    levels: tuple[n.Level, ...]
    titles: tuple[TitlePlan, ...]
    order: tuple[tuple[str, str], ...]
    aggregates: tuple[n.Call, ...]
    aggregate_index: Mapping[n.Call, int]
    score_needs_bloc: bool
    enum_values: frozenset[str]
    list_fields: Mapping[str, tuple[str, ...]]
    spans: Mapping[tuple[str, str], n.Span] = field(default_factory=dict)

    def where(self, kind: str, name: str) -> str:
        """How errors name a computed node: ``criterion 'targets'``, ``score``."""
        return f"{kind} '{name}'" if name else kind


def source_text(source: str, span: n.Span) -> str:
    """The text a span covers (one line joined with spaces if it crosses lines)."""
    lines = source_lines(source)
    if not span.line or span.line > len(lines):
        return ""
    if span.end_line == span.line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    parts = [lines[span.line - 1][span.column - 1 :]]
    parts += lines[span.line : span.end_line - 1]
    if span.end_line <= len(lines):
        parts.append(lines[span.end_line - 1][: span.end_column - 1])
    return " ".join(p.strip() for p in parts)


def _list_fields(inputs: Sequence[n.Input]) -> dict[str, tuple[str, ...]]:
    return {i.name: tuple(f.name for f in i.type.fields) for i in inputs if isinstance(i.type, n.ListType)}


def referenced_names(e: n.Expr, list_fields: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Declared names ``e`` reads, in first-use order; record fields inside ``where``/``of`` excluded."""
    out: list[str] = []

    def visit(x: n.Expr, fields: frozenset[str]) -> None:
        if isinstance(x, n.Name):
            if x.id not in fields and x.id not in out:
                out.append(x.id)
            return
        if isinstance(x, n.ListAgg):
            visit(x.source, fields)
            inner = fields
            if isinstance(x.source, n.Name) and x.source.id in list_fields:
                inner = fields | frozenset(list_fields[x.source.id])
            for sub in (x.where, x.of):
                if sub is not None:
                    visit(sub, inner)
            return
        for c in children(x):
            visit(c, fields)

    visit(e, frozenset())
    return out


def build_plan(ruleset: n.Ruleset, source: str = "") -> Plan:
    """Analyse a checked ruleset once: names, evaluation order, bloc aggregates, titles."""
    rounding = ruleset.rounding
    inputs = tuple(ruleset.inputs)
    list_fields = _list_fields(inputs)
    kinds: dict[str, str] = {i.name: "input" for i in inputs}
    lets: dict[str, n.Let] = {}
    criteria: list[tuple[n.Criterion, str]] = []
    groups: list[n.Group] = []
    bonus = penalty = None
    score_def = None
    levels: tuple[n.Level, ...] = ()
    exprs: dict[tuple[str, str], list[n.Expr]] = {}
    deps_extra: dict[tuple[str, str], list[tuple[str, str]]] = {}
    spans: dict[tuple[str, str], n.Span] = {}
    for item in ruleset.items:
        if isinstance(item, n.Let):
            lets[item.name] = item
            kinds[item.name] = "let"
            exprs[("let", item.name)] = [item.expr]
            spans[("let", item.name)] = item.span
        elif isinstance(item, (n.Group, n.Bonus, n.Penalty)):
            if isinstance(item, n.Group):
                key, section = ("group", item.name), item.name
                groups.append(item)
                kinds[item.name] = "group"
            elif isinstance(item, n.Bonus):
                key, section, bonus = ("bonus", ""), "bonus", item
            else:
                key, section, penalty = ("penalty", ""), "penalty", item
            exprs[key] = []
            spans[key] = item.span
            deps_extra[key] = []
            for c in item.criteria:
                criteria.append((c, section))
                kinds[c.name] = "criterion"
                exprs[("criterion", c.name)] = [c.expr]
                spans[("criterion", c.name)] = c.span
                deps_extra[key].append(("criterion", c.name))
        elif isinstance(item, n.ScoreDef):
            score_def = item
        elif isinstance(item, n.Classify):
            levels = item.levels
    for word in SCORE_NAMES:
        kinds[word] = word
    if score_def is not None:
        exprs[("score", "")] = [score_def.expr]
        spans[("score", "")] = score_def.span
    else:
        exprs[("score", "")] = []
        deps_extra[("score", "")] = [("group", g.name) for g in groups] + [("bonus", ""), ("penalty", "")]
    exprs.setdefault(("bonus", ""), [])
    exprs.setdefault(("penalty", ""), [])
    level_exprs: list[n.Expr] = []
    for lv in levels:
        level_exprs += [x for x in (lv.when, lv.unless) if x is not None]
    exprs[("level", "")] = level_exprs

    def node_of(name: str) -> tuple[str, str] | None:
        kind = kinds.get(name)
        if kind in ("let", "criterion", "group"):
            return (kind, name)
        if kind in SCORE_NAMES:
            return (kind, "")
        return None

    deps: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, xs in exprs.items():
        d = list(deps_extra.get(key, []))
        for x in xs:
            for name in referenced_names(x, list_fields):
                dep = node_of(name)
                if dep is not None and dep not in d:
                    d.append(dep)
        deps[key] = d
    order = _toposort(deps)

    aggregates: list[n.Call] = []
    index: dict[n.Call, int] = {}
    score_needs_bloc = False
    for xs in exprs.values():
        for x in xs:
            for call in bloc_calls(x):
                score_needs_bloc = True
                if call not in index:
                    index[call] = len(aggregates)
                    aggregates.append(call)
    titles: list[TitlePlan] = []
    declared_titles: list[str] = []
    for t in ruleset.titles:
        reqs: list[RequirePlan] = []
        for r in t.requires:
            names = referenced_names(r.expr, list_fields)
            calls = list(bloc_calls(r.expr))
            for call in calls:
                if call not in index:
                    index[call] = len(aggregates)
                    aggregates.append(call)
            reqs.append(
                RequirePlan(
                    require=r,
                    names=tuple(names),
                    titles=tuple(x for x in names if x in declared_titles),
                    needs_rank=any(x in BLOC_NAMES for x in names),
                    has_aggregate=bool(calls),
                    text=source_text(source, r.expr.span) if source else "",
                )
            )
        titles.append(TitlePlan(t, tuple(reqs)))
        declared_titles.append(t.name)

    enum_values: set[str] = {lv.name for lv in levels}
    for i in inputs:
        enum_values |= set(_enum_values_of(i.type))
    return Plan(
        ruleset=ruleset,
        places=rounding.places,
        mode=ROUNDING_MODES[rounding.mode],
        quantum=quantum(rounding.places),
        inputs=inputs,
        kinds=kinds,
        lets=lets,
        criteria=tuple(criteria),
        groups=tuple(groups),
        bonus=bonus,
        penalty=penalty,
        score_def=score_def,
        levels=levels,
        titles=tuple(titles),
        order=order,
        aggregates=tuple(aggregates),
        aggregate_index=index,
        score_needs_bloc=score_needs_bloc,
        enum_values=frozenset(enum_values),
        list_fields=list_fields,
        spans=spans,
    )


def _enum_values_of(t: n.TypeExpr) -> Iterator[str]:
    if isinstance(t, n.EnumType):
        yield from t.values
    elif isinstance(t, n.ListType):
        for f in t.fields:
            yield from _enum_values_of(f.type)


def _toposort(deps: Mapping[tuple[str, str], list[tuple[str, str]]]) -> tuple[tuple[str, str], ...]:
    """Depth-first order, roots in declaration order; the checker has already rejected cycles."""
    out: list[tuple[str, str]] = []
    state: dict[tuple[str, str], int] = {}

    def visit(key: tuple[str, str]) -> None:
        # An explicit stack: rulesets with long let chains must not hit Python's recursion limit.
        stack: list[tuple[tuple[str, str], int]] = [(key, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if state.get(node) == 2:
                    continue
                if state.get(node) == 1:
                    raise EvaluationError(f"circular definition through {node[0]} '{node[1]}'")
                state[node] = 1
            ds = deps.get(node, [])
            if i < len(ds):
                stack.append((node, i + 1))
                if state.get(ds[i]) != 2:
                    stack.append((ds[i], 0))
            else:
                state[node] = 2
                out.append(node)

    for key in deps:
        visit(key)
    return tuple(out)


# ------------------------------------------------------------------ bloc aggregates


@dataclass(frozen=True, slots=True)
class BlocAggregates:
    """The value of every ``bloc_*`` expression of a ruleset over one bloc, in plan order.

    ``values[i]`` belongs to ``Plan.aggregates[i]``; ``size`` is the number of units.
    """

    values: tuple[Decimal, ...]
    size: int

    def get(self, plan: Plan, call: n.Call) -> Decimal:
        return self.values[plan.aggregate_index[call]]


def combine_aggregates(plan: Plan, per_unit: Sequence[Sequence[Any]]) -> BlocAggregates:
    """Fold each unit's term values (``per_unit[u][i]`` for aggregate i) into bloc values."""
    values: list[Decimal] = []
    size = len(per_unit)
    for i, call in enumerate(plan.aggregates):
        terms = [row[i] for row in per_unit]
        where = f"{call.func}() at line {call.span.line}"
        if call.func == "bloc_count":
            values.append(Decimal(sum(1 for t in terms if t is True)))
            continue
        if not terms:
            raise EvaluationError("the bloc has no units to aggregate", where=where, span=call.span)
        if call.func == "bloc_max":
            values.append(max(terms))
        elif call.func == "bloc_min":
            values.append(min(terms))
        else:
            total = ZERO
            for t in terms:
                total = CTX.add(total, t)
            values.append(total if call.func == "bloc_sum" else CTX.divide(total, Decimal(size)))
    return BlocAggregates(tuple(values), size)


def need_bloc(where: str) -> EvaluationError:
    return EvaluationError(
        "this ruleset compares units within their bloc (bloc_max, bloc_avg, …); "
        "score the unit as part of a bloc (thidua evaluate)",
        where=where,
    )


# ------------------------------------------------------------------ generated code at run time


@dataclass(frozen=True, slots=True)
class LineInfo:
    """Which ruleset declaration a generated line belongs to."""

    where: str
    span: n.Span


# Called once per title per scored unit: plain loops, a few times cheaper than any() over a generator.
def _status(*passed: bool | None) -> str:
    for p in passed:
        if p is False:
            return "not_eligible"
    for p in passed:
        if p is None:
            return "undecided"
    return "eligible"


def _eligibility(passed: tuple[bool | None, ...]) -> bool | None:
    for p in passed:
        if p is False:
            return False
    for p in passed:
        if p is None:
            return None
    return True


def _nobloc() -> None:
    raise need_bloc("scoring")


class CompiledEvaluator:
    """The generated functions of one ruleset and the map back to ruleset lines.

    The whole module's source is generated (and registered in `linecache`) at
    once, but each function is compiled the first time it is used: scoring
    needs only ``_unit_raw``; explanations, bloc terms, pre-validated inputs
    and the standalone validator pay for their compilation when first asked.
    Compiling is idempotent and guarded by a lock, so the object behaves as
    immutable and is safe to share between threads.
    """

    def __init__(
        self,
        plan: Plan,
        filename: str,
        code: str,
        line_info: tuple[LineInfo, ...],
        sections: dict[str, tuple[int, str]],
        namespace: dict[str, Any],
    ) -> None:
        self.plan = plan
        self.filename = filename
        self.code = code
        self.line_info = line_info
        self._sections = sections
        self._namespace = namespace
        self._lock = threading.Lock()

    def function(self, name: str) -> Callable[..., Any]:
        """A generated function by name, compiled on first use (same line numbers as `code`)."""
        fn = self._namespace.get(name)
        if fn is None:
            with self._lock:
                fn = self._namespace.get(name)
                if fn is None:
                    start, text = self._sections[name]
                    # Leading newlines keep the function's line numbers those of the whole module.
                    exec(compile("\n" * start + text, self.filename, "exec"), self._namespace)
                    fn = self._namespace[name]
        return fn  # type: ignore[no-any-return]

    @property
    def unit(self) -> Callable[..., tuple[Any, ...]]:
        """``(validated inputs, bloc values or None) -> result tuple``."""
        return self.function("_unit")

    @property
    def unit_explain(self) -> Callable[..., tuple[Any, ...]]:
        """Like `unit`, with the explanation's raw values, rows, totals and level steps appended."""
        return self.function("_unit_explain")

    @property
    def unit_raw(self) -> Callable[..., tuple[Any, ...] | None]:
        """``(raw submission, bloc values or None) -> result tuple``, None to defer validation."""
        return self.function("_unit_raw")

    @property
    def terms(self) -> Callable[..., tuple[Any, ...]]:
        """One unit's term of every bloc aggregate."""
        return self.function("_terms")

    @property
    def validate(self) -> Callable[[Any], dict[str, Any] | None]:
        """The validation fast path alone: inputs, or None to defer to `dsl.inputs.Validator`."""
        return self.function("_validate")

    def info_for(self, tb: types.TracebackType | None) -> LineInfo | None:
        """The declaration of the innermost generated line in a traceback."""
        found: LineInfo | None = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
                if 1 <= lineno <= len(self.line_info):
                    found = self.line_info[lineno - 1]
            tb = tb.tb_next
        return found

    def translate(self, exc: Exception, unit: str | None = None) -> EvaluationError:
        """Turn an exception raised inside generated code into an `EvaluationError`."""
        info = self.info_for(exc.__traceback__)
        if isinstance(exc, EvaluationError):
            if exc.where:
                return exc
            message = exc.message
        elif isinstance(exc, Failure):
            message = str(exc)
        elif isinstance(exc, ArithmeticError):
            message = arithmetic_message(exc)
        else:
            message = f"cannot evaluate ({type(exc).__name__}: {exc})"
        where = info.where if info else ""
        span = info.span if info else None
        return EvaluationError(message, where=where, span=span, unit=unit)


#: Decimal(0) … Decimal(1023): converting a submitted count is then a tuple lookup.
_SMALL_INTS = tuple(Decimal(i) for i in range(1024))

#: Points tables cover whole numbers 0…POINTS_TABLE_SIZE-1 (criterion maxima are small).
POINTS_TABLE_SIZE = 1001


@functools.lru_cache(maxsize=64)
def points_table(places: int, mode: str) -> tuple[Decimal, ...] | None:
    """``k`` rounded to ``places`` for every whole ``k`` of the table, as ``quantize`` gives it.

    Whole-number criterion points are then a tuple lookup (`dsl.intpath`);
    None when ``places`` is too large for the table's numbers to be rounded.
    """
    q = quantum(places)
    try:
        return tuple(Decimal(k).quantize(q, mode, CTX) for k in range(POINTS_TABLE_SIZE))
    except ArithmeticError:
        return None


def namespace() -> dict[str, Any]:
    """The globals every generated module starts from (its constants are added per ruleset)."""
    return {
        # Generated code gets no builtins: ruleset text cannot reach anything not listed here.
        "__builtins__": {},
        "_localcontext": decimal.localcontext,
        "_CTX": CTX,
        "_ZERO": ZERO,
        "_D": Decimal,
        "_min": min,
        "_max": max,
        "_abs": abs,
        "_clamp": clamp,
        "_round": round_to,
        "_floor": floor,
        "_ceil": ceil,
        "_Failure": Failure,
        "_status": _status,
        "_eligibility": _eligibility,
        "_nobloc": _nobloc,
        "_MISSING": inputs.MISSING,
        "_MAXABS": inputs.MAX_ABS,
        "_MAXINT": int(inputs.MAX_ABS),
        "_fast_date": inputs.fast_date,
        "_int": int,
        "_str": str,
        "_len": len,
        "_type": type,
        "_dict": dict,
        "_KeyError": KeyError,
        "_SMALL": _SMALL_INTS,
        "_zip": zip,
    }
