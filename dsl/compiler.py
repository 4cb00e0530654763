"""Checked ruleset → Python source → a compiled, immutable unit evaluator.

This module owns code generation. Each ruleset becomes one small Python
module of straight-line code: inputs loaded into locals, lets, criteria,
groups, bonus, penalty, score and level computed in dependency order, each
unit-level title requirement decided. Lazy constructs (``if``, ``table``,
``and``/``or``, list aggregates) become ``if``/``for`` statements so nothing
is evaluated that the ruleset would not evaluate. The module defines
``_unit_raw`` (validation fast path and scoring in one, the common call),
``_unit`` (validated inputs), ``_unit_explain`` (also returns what
explanations need), ``_terms`` (one unit's bloc-aggregate terms) and
``_validate`` (the validation fast path alone); `dsl.runtime.CompiledEvaluator`
compiles each on first use.

Ruleset text is data, never code: every value (numbers, strings, dates, enum
values) reaches the generated code as a constant in the module's own
namespace (``_k0``, ``_k1``…), names become prefixed locals (``v_members``,
non-ASCII names numbered), and dictionary keys are written with ``repr`` of a
plain identifier. The namespace has no builtins except the few handed in.

Every generated line remembers which declaration produced it (`LineInfo`), so
a decimal signal raised by generated code (division by zero) becomes an
`EvaluationError` naming the criterion or let and its ruleset line. The
source is registered in `linecache` as ``<ruleset NAME VERSION>`` for
tracebacks and debuggers.
"""

from __future__ import annotations

import hashlib
import linecache
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsl import intpath
from dsl import nodes as n
from dsl import runtime as rt
from dsl.errors import Diagnostic, RulesetError

_NUMBERED = re.compile(r"u[0-9]+")

#: Above this length an expression is stored in a temporary, which keeps Python's
#: parser far from its nesting limit on long sums.
_HOIST_LENGTH = 300

_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})


constant_value = intpath.constant_value
Failure = rt.Failure
LineInfo = rt.LineInfo
CompiledEvaluator = rt.CompiledEvaluator


@dataclass
class _Scope:
    """Names visible while compiling one expression: record fields and whether titles are."""

    fields: dict[str, str] = field(default_factory=dict)
    titles: frozenset[str] = frozenset()


class _Gen:
    """Emits one function's lines; shared constants live in `_Module`."""

    def __init__(self, module: _Module) -> None:
        self.m = module
        self.plan = module.plan
        self.out: list[tuple[int, str, LineInfo]] = []
        self.info = LineInfo("ruleset", n.NO_SPAN)
        self.temps = 0
        #: Whether the int inputs' Python ints are in locals (`i_…`, the fused function).
        self.int_inputs = False

    # ---- emission
    def emit(self, indent: int, text: str) -> None:
        self.out.append((indent, text, self.info))

    def temp(self, prefix: str = "_t") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def take(self, mark: int) -> list[tuple[int, str, LineInfo]]:
        lines = self.out[mark:]
        del self.out[mark:]
        return lines

    def hoist(self, expr: str, indent: int) -> str:
        if len(expr) <= _HOIST_LENGTH:
            return expr
        t = self.temp()
        self.emit(indent, f"{t} = {expr}")
        return t

    # ---- expressions
    def expr(self, e: n.Expr, ind: int, scope: _Scope) -> str:
        """Python source for ``e``; may first emit statements at indentation ``ind``."""
        m = self.m
        if isinstance(e, n.Number):
            return m.const(e.value)
        if isinstance(e, n.BoolLit):
            return "True" if e.value else "False"
        if isinstance(e, (n.StringLit, n.DateLit)):
            return m.const(e.value)
        if isinstance(e, n.EnumValue):
            return m.const(e.value)
        if isinstance(e, n.FieldRef):
            return self.field(e.name, scope, e.span)
        if isinstance(e, n.Name):
            return self.name(e, scope)
        if isinstance(e, (n.Unary, n.Binary)):
            folded = constant_value(e)
            if folded is not None:
                return m.const(folded)
        if isinstance(e, n.Unary):
            inner = self.expr(e.operand, ind, scope)
            return f"(not {inner})" if e.op == "not" else f"(-{inner})"
        if isinstance(e, n.Binary):
            return self.binary(e, ind, scope)
        if isinstance(e, n.InList):
            operand = self.expr(e.operand, ind, scope)
            if all(
                isinstance(o, (n.Number, n.StringLit, n.DateLit, n.EnumValue, n.BoolLit)) for o in e.options
            ):
                values = frozenset(rt_literal(o) for o in e.options)
                return f"({operand} in {m.const(values)})"
            opts = [self.expr(o, ind, scope) for o in e.options]
            return self.hoist(f"({operand} in ({', '.join(opts)},))", ind)
        if isinstance(e, n.IfExpr):
            return self.if_expr(e, ind, scope)
        if isinstance(e, n.Table):
            return self.table(e, ind, scope, None)
        if isinstance(e, n.Call):
            return self.call(e, ind, scope)
        if isinstance(e, n.ListAgg):
            return self.list_agg(e, ind, scope)
        raise self.m.error(f"{type(e).__name__.lower()} cannot appear in a scoring expression", e.span)

    def field(self, name: str, scope: _Scope, span: n.Span) -> str:
        rec = scope.fields.get(name)
        if rec is None:
            raise self.m.error(f"'{name}' is not a field of the records in scope", span)
        return f"{rec}[{self.m.const(name)}]"

    def name(self, e: n.Name, scope: _Scope) -> str:
        if e.id in scope.fields:
            return self.field(e.id, scope, e.span)
        if e.id in scope.titles:
            return self.m.title_var(e.id)
        kind = self.plan.kinds.get(e.id)
        if kind is not None:
            return self.m.var(e.id)
        if e.id in self.plan.enum_values:
            return self.m.const(e.id)
        raise self.m.error(f"unknown name '{e.id}'", e.span)

    def decimal_binary(self, e: n.Binary, ind: int, scope: _Scope) -> str:
        left = self.expr(e.left, ind, scope)
        if e.op in ("and", "or"):
            mark = len(self.out)
            right = self.expr(e.right, ind + 1, scope)
            lines = self.take(mark)
            if not lines:
                return self.hoist(f"({left} {e.op} {right})", ind)
            t = self.temp()
            self.emit(ind, f"{t} = {left}")
            self.emit(ind, f"if {t}:" if e.op == "and" else f"if not {t}:")
            self.out.extend(lines)
            self.emit(ind + 1, f"{t} = {right}")
            return t
        right = self.expr(e.right, ind, scope)
        return self.hoist(f"({left} {e.op} {right})", ind)

    def binary(self, e: n.Binary, ind: int, scope: _Scope) -> str:
        if e.op in _COMPARISONS:
            # Whole numbers compare as Python ints: the same truth value, cheaper.
            fast = intpath.int_comparison(self, e, ind, scope)
            if fast is not None:
                return fast
        return self.decimal_binary(e, ind, scope)

    def if_expr(self, e: n.IfExpr, ind: int, scope: _Scope) -> str:
        cond = self.expr(e.cond, ind, scope)
        mark = len(self.out)
        then = self.expr(e.then, ind + 1, scope)
        then_lines = self.take(mark)
        other = self.expr(e.otherwise, ind + 1, scope)
        other_lines = self.take(mark)
        if not then_lines and not other_lines:
            return self.hoist(f"({then} if {cond} else {other})", ind)
        t = self.temp()
        self.emit(ind, f"if {cond}:")
        self.out.extend(then_lines)
        self.emit(ind + 1, f"{t} = {then}")
        self.emit(ind, "else:")
        self.out.extend(other_lines)
        self.emit(ind + 1, f"{t} = {other}")
        return t

    def table(
        self,
        e: n.Table,
        ind: int,
        scope: _Scope,
        row_var: str | None,
        put: Callable[[n.Expr, int], None] | None = None,
    ) -> str:
        """First matching row wins; ``row_var`` (explanations) records which one (0 = else).

        ``put(value, depth)`` emits a row's own statements instead of assigning its value
        to the returned temporary (criterion points computed inside each row).
        """
        subject = self.temp()
        result = self.temp()
        self.emit(ind, f"{subject} = {self.expr(e.subject, ind, scope)}")

        def assign(value_expr: n.Expr, depth: int, row: int) -> None:
            if put is not None:
                put(value_expr, depth)
                return
            value = self.expr(value_expr, depth, scope)
            if row_var is not None:
                self.emit(depth, f"{row_var} = {row}")
            self.emit(depth, f"{result} = {value}")

        depth = ind
        for i, row in enumerate(e.rows, start=1):
            mark = len(self.out)
            if row.op == "in":
                vals = [self.expr(v, depth, scope) for v in row.values]
                cond = f"{subject} in ({', '.join(vals)},)"
            else:
                cond = f"{subject} {row.op} {self.expr(row.values[0], depth, scope)}"
            cond_lines = self.take(mark)
            if i == 1:
                self.out.extend(cond_lines)
                self.emit(depth, f"if {cond}:")
            elif not cond_lines:
                self.emit(depth, f"elif {cond}:")
            else:
                # The row's value needs statements first: they go in the previous row's `else`.
                self.emit(depth, "else:")
                depth += 1
                self.out.extend((d + 1, text, li) for d, text, li in cond_lines)
                self.emit(depth, f"if {cond}:")
            assign(row.result, depth + 1, i)
        body = depth
        if e.rows:
            self.emit(depth, "else:")
            body = depth + 1
        if e.default is not None:
            assign(e.default, body, 0)
        else:
            self.emit(body, f"raise _Failure({self.m.const('no row of the table matched the value')})")
        return result

    def call(self, e: n.Call, ind: int, scope: _Scope) -> str:
        m = self.m
        if e.func in rt.BLOC_AGGREGATES:
            idx = self.plan.aggregate_index.get(e)
            if idx is None:
                raise m.error(f"{e.func}() is not available here", e.span)
            return f"_bv[{idx}]"
        args = [self.expr(a, ind, scope) for a in e.args]
        if e.func in ("min", "max"):
            return self.hoist(f"_{e.func}({', '.join(args)})", ind)
        if e.func == "clamp" and len(args) == 3:
            return self.hoist(f"_clamp({args[0]}, {args[1]}, {args[2]})", ind)
        if e.func == "round" and len(args) == 2:
            places = e.args[1]
            if (
                isinstance(places, n.Number)
                and places.value == places.value.to_integral_value()
                and 0 <= places.value <= 28
            ):
                return f"{args[0]}.quantize({m.const(rt.quantum(int(places.value)))}, _MODE)"
            return self.hoist(f"_round({args[0]}, {args[1]}, _MODE)", ind)
        if e.func in ("floor", "ceil") and len(args) == 1:
            return f"_{e.func}({args[0]})"
        if e.func == "abs" and len(args) == 1:
            return f"_abs({args[0]})"
        raise m.error(f"unknown function '{e.func}' with {len(args)} argument(s)", e.span)

    def list_agg(self, e: n.ListAgg, ind: int, scope: _Scope) -> str:
        source = self.expr(e.source, ind, scope)
        acc = self.temp("_a")
        rec = self.temp("_r")
        inner = _Scope(dict(scope.fields), scope.titles)
        if isinstance(e.source, n.Name) and e.source.id in self.plan.list_fields:
            for f in self.plan.list_fields[e.source.id]:
                inner.fields[f] = rec
        start = {"count": "0", "any": "False", "all": "True", "sum": "_ZERO"}[e.func]
        self.emit(ind, f"{acc} = {start}")
        self.emit(ind, f"for {rec} in {source}:")
        body = ind + 1
        if e.func == "all":
            cond = self.expr(e.where, body, inner) if e.where is not None else "True"
            self.emit(body, f"if not {cond}:")
            self.emit(body + 1, f"{acc} = False")
            self.emit(body + 1, "break")
            return acc
        if e.where is not None:
            cond = self.expr(e.where, body, inner)
            self.emit(body, f"if {cond}:")
            body += 1
        if e.func == "count":
            self.emit(body, f"{acc} += 1")
            return f"_D({acc})"
        if e.func == "any":
            self.emit(body, f"{acc} = True")
            self.emit(body, "break")
            return acc
        if e.of is None:
            raise self.m.error("sum() needs `of` and an expression", e.span)
        value = self.expr(e.of, body, inner)
        self.emit(body, f"{acc} = {acc} + {value}")
        return acc


def rt_literal(e: n.Expr) -> Any:
    """The value of a literal or enum value (used to precompute `in [...]` sets)."""
    if isinstance(e, (n.Number, n.StringLit, n.DateLit, n.BoolLit)):
        return e.value
    if isinstance(e, n.EnumValue):
        return e.value
    raise TypeError(type(e).__name__)


class _Module:
    """Constants, local-variable names and the functions of one generated module."""

    def __init__(self, plan: rt.Plan, path: str) -> None:
        self.plan = plan
        self.path = path
        self.consts: dict[tuple[str, Any], str] = {}
        self.namespace: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        #: Static ranges of the int inputs after validation (`dsl.intpath`).
        self.int_inputs = intpath.input_ranges(plan)

    def error(self, message: str, span: n.Span) -> RulesetError:
        return RulesetError([Diagnostic("error", message, span, "compile")])

    def const(self, value: Any) -> str:
        key: tuple[str, Any] = (type(value).__name__, value if not isinstance(value, Decimal) else str(value))
        if isinstance(value, (list, dict)):
            key = ("id", id(value))  # unhashable (a list default): one constant per object
        name = self.consts.get(key)
        if name is None:
            name = f"_k{len(self.consts)}"
            self.consts[key] = name
            self.namespace[name] = value
        return name

    def _suffix(self, name: str) -> str:
        s = self.names.get(name)
        if s is None:
            # Python NFKC-normalizes identifiers, so only plain ASCII names are kept readable;
            # the others are numbered `u<n>`, and so is an ASCII name of that shape, which keeps
            # the mapping one-to-one.
            readable = name.isascii() and name.isidentifier() and not _NUMBERED.fullmatch(name)
            s = name if readable else f"u{len(self.names)}"
            self.names[name] = s
        return s

    def var(self, name: str) -> str:
        return "v_" + self._suffix(name)

    def int_var(self, name: str) -> str:
        return "i_" + self._suffix(name)

    def raw_var(self, name: str) -> str:
        return "r_" + self._suffix(name)

    def title_var(self, name: str) -> str:
        return "t_" + self._suffix(name)


def _decl_info(plan: rt.Plan, kind: str, name: str) -> LineInfo:
    return LineInfo(plan.where(kind, name), plan.spans.get((kind, name), n.NO_SPAN))


def _gen_unit(mod: _Module, explain: bool, fused: bool = False) -> _Gen:
    """The unit evaluator: ``(inputs, bloc values or None) -> result tuple``.

    ``fused`` makes ``_unit_raw``: the validation fast path inlined before the
    computation, taking a raw submission and returning None (defer to the
    general validator) for anything it does not accept.
    """
    plan = mod.plan
    g = _Gen(mod)
    g.int_inputs = fused
    fname = "_unit_raw" if fused else ("_unit_explain" if explain else "_unit")
    g.emit(0, f"def {fname}({'raw' if fused else 'inp'}, _bv):")
    g.emit(1, "with _localcontext(_CTX):")
    b = 2
    if fused:
        _emit_validation(g, b)
    else:
        for i in plan.inputs:
            g.emit(b, f"{mod.var(i.name)} = inp[{i.name!r}]")
    if plan.score_needs_bloc:
        g.emit(b, "if _bv is None:")
        g.emit(b + 1, "_nobloc()")
    scope = _Scope()
    criteria = {c.name: (c, section) for c, section in plan.criteria}
    for kind, name in plan.order:
        g.info = _decl_info(plan, kind, name)
        if kind == "let":
            if fused and intpath.emit_count_let(g, name, plan.lets[name].expr, b, scope):
                continue
            g.emit(b, f"{mod.var(name)} = {g.expr(plan.lets[name].expr, b, scope)}")
        elif kind == "criterion":
            c, _ = criteria[name]
            if not explain:
                intpath.emit_points(g, c, c.expr, b, scope, mod.var(name))
                continue
            raw = mod.raw_var(name)
            if isinstance(c.expr, n.Table):
                row = "_row_" + mod._suffix(name)
                g.emit(b, f"{row} = None")
                value = g.table(c.expr, b, scope, row)
            else:
                value = g.expr(c.expr, b, scope)
            g.emit(b, f"{raw} = {value}")
            p = mod.var(name)
            g.emit(b, f"{p} = {raw} if {raw} > _ZERO else _ZERO")
            if c.max is not None:
                mx = mod.const(c.max.value)
                g.emit(b, f"if {p} > {mx}:")
                g.emit(b + 1, f"{p} = {mx}")
            g.emit(b, f"{p} = {p}.quantize(_Q, _MODE)")
        elif kind in ("group", "bonus", "penalty"):
            section: n.Group | n.Bonus | n.Penalty | None
            if kind == "group":
                section = next(x for x in plan.groups if x.name == name)
            else:
                section = plan.bonus if kind == "bonus" else plan.penalty
            total = "_tot_" + (mod._suffix(name) if name else kind)
            target = mod.var(name or kind)
            if section is None:
                g.emit(b, f"{total} = _ZERO")
                g.emit(b, f"{target} = _ZERO")
                continue
            parts = [mod.var(c.name) for c in section.criteria] or ["_ZERO"]
            g.emit(b, f"{total} = {' + '.join(parts)}")
            if section.max is not None:
                mx = mod.const(section.max.value)
                g.emit(b, f"{target} = {total} if {total} <= {mx} else {mx}")
            else:
                g.emit(b, f"{target} = {total}")
        elif kind == "score":
            if plan.score_def is not None:
                value = g.expr(plan.score_def.expr, b, scope)
                g.emit(b, f"v_score = ({value}).quantize(_Q, _MODE)")
            else:
                parts = [mod.var(x.name) for x in plan.groups] + ["v_bonus"]
                g.emit(b, f"_s = {' + '.join(parts)} - v_penalty")
                g.emit(b, "v_score = (_s if _s > _ZERO else _ZERO).quantize(_Q, _MODE)")
        elif kind == "level":
            if explain:
                for li in range(len(plan.levels)):
                    g.emit(b, f"_lw{li} = _lu{li} = None")
            _gen_levels(g, 0, b, scope)
    _gen_titles(g, b)
    g.info = LineInfo("ruleset", n.NO_SPAN)
    computed = [name for name in plan.kinds if plan.kinds[name] in ("let", "criterion", "group")]
    # A copy of a template dict filled in place is the fastest way to build a large dict
    # (no hashing, no resizing); the template itself is never written to.
    names = [i.name for i in plan.inputs] + computed + list(rt.SCORE_NAMES)
    g.emit(b, f"_values = {mod.const(dict.fromkeys(names))}.copy()")
    for x in names:
        g.emit(b, f"_values[{x!r}] = {'v_' + x if x in rt.SCORE_NAMES else mod.var(x)}")
    crit_names = tuple(c.name for c, s in plan.criteria if s not in ("bonus", "penalty"))
    g.emit(b, f"_crit = {mod.const(dict.fromkeys(crit_names))}.copy()")
    for x in crit_names:
        g.emit(b, f"_crit[{x!r}] = {mod.var(x)}")
    crit = "_crit"
    groups = ", ".join(f"{x.name!r}: {mod.var(x.name)}" for x in plan.groups)
    titles = ", ".join(
        f"(_status({', '.join(f'_q{ti}_{ri}' for ri in range(len(tp.requires)))}{',' if len(tp.requires) == 1 else ''}), "
        f"({''.join(f'_q{ti}_{ri}, ' for ri in range(len(tp.requires)))}))"
        for ti, tp in enumerate(plan.titles)
    )
    head = f"_values, {crit}, {{{groups}}}, v_bonus, v_penalty, v_score, v_level, ({titles}{',' if len(plan.titles) == 1 else ''})"
    if not explain:
        g.emit(b, f"return ({head})")
        return g
    raws = ", ".join(f"{c.name!r}: {mod.raw_var(c.name)}" for c, _ in plan.criteria)
    rows = ", ".join(
        f"{c.name!r}: _row_{mod._suffix(c.name)}" for c, _ in plan.criteria if isinstance(c.expr, n.Table)
    )
    totals = [f"{x.name!r}: _tot_{mod._suffix(x.name)}" for x in plan.groups]
    totals += ["'bonus': _tot_bonus", "'penalty': _tot_penalty"]
    steps = "".join(f"(_lw{i}, _lu{i}), " for i in range(len(plan.levels)))
    g.emit(b, f"return ({head}, {{{raws}}}, {{{rows}}}, {{{', '.join(totals)}}}, ({steps}))")
    return g


def _gen_levels(g: _Gen, i: int, ind: int, scope: _Scope) -> None:
    plan = g.plan
    mod = g.m
    if i >= len(plan.levels):
        g.info = LineInfo("classify", n.NO_SPAN)
        if plan.levels:
            g.emit(ind, f"raise _Failure({mod.const('no classification level applies')})")
        else:
            g.emit(ind, f"v_level = {mod.const('')}")
        return
    lv = plan.levels[i]
    g.info = LineInfo(f"level '{lv.name}'", lv.span)
    if lv.when is None:
        g.emit(ind, f"v_level = {mod.const(lv.name)}")
        return
    g.emit(ind, f"_lw{i} = {g.expr(lv.when, ind, scope)}")
    if lv.unless is not None:
        g.emit(ind, f"if _lw{i}:")
        g.emit(ind + 1, f"_lu{i} = {g.expr(lv.unless, ind + 1, scope)}")
        g.emit(ind, f"if _lw{i} and not _lu{i}:")
    else:
        g.emit(ind, f"if _lw{i}:")
    g.emit(ind + 1, f"v_level = {mod.const(lv.name)}")
    g.emit(ind, "else:")
    _gen_levels(g, i + 1, ind + 1, scope)


def _gen_titles(g: _Gen, b: int) -> None:
    """Unit-level eligibility: None where a requirement needs the bloc (SPEC §1.6)."""
    plan = g.plan
    mod = g.m
    visible: list[str] = []
    for ti, tp in enumerate(plan.titles):
        scope = _Scope(titles=frozenset(visible))
        for ri, rp in enumerate(tp.requires):
            q = f"_q{ti}_{ri}"
            g.info = LineInfo(f"title '{tp.title.name}'", rp.require.span)
            if rp.needs_rank:
                g.emit(b, f"{q} = None")
                continue
            conds = [f"{mod.title_var(t)} is None" for t in rp.titles]
            if rp.has_aggregate:
                conds.append("_bv is None")
            if conds:
                g.emit(b, f"if {' or '.join(conds)}:")
                g.emit(b + 1, f"{q} = None")
                g.emit(b, "else:")
                g.emit(b + 1, f"{q} = {g.expr(rp.require.expr, b + 1, scope)}")
            else:
                g.emit(b, f"{q} = {g.expr(rp.require.expr, b, scope)}")
        qs = ", ".join(f"_q{ti}_{ri}" for ri in range(len(tp.requires)))
        g.emit(
            b, f"{mod.title_var(tp.title.name)} = _eligibility(({qs}{',' if len(tp.requires) == 1 else ''}))"
        )
        visible.append(tp.title.name)


def _gen_terms(mod: _Module) -> _Gen:
    """One unit's term of every bloc aggregate: ``inputs -> tuple`` (lets computed as needed)."""
    plan = mod.plan
    g = _Gen(mod)
    g.emit(0, "def _terms(inp):")
    g.emit(1, "with _localcontext(_CTX):")
    b = 2
    for i in plan.inputs:
        g.emit(b, f"{mod.var(i.name)} = inp[{i.name!r}]")
    needed: set[str] = set()
    stack = [
        name
        for call in plan.aggregates
        for a in call.args
        for name in rt.referenced_names(a, plan.list_fields)
    ]
    while stack:
        name = stack.pop()
        if plan.kinds.get(name) == "let" and name not in needed:
            needed.add(name)
            stack.extend(rt.referenced_names(plan.lets[name].expr, plan.list_fields))
    scope = _Scope()
    for kind, name in plan.order:
        if kind == "let" and name in needed:
            g.info = _decl_info(plan, kind, name)
            g.emit(b, f"{mod.var(name)} = {g.expr(plan.lets[name].expr, b, scope)}")
    terms = []
    for call in plan.aggregates:
        g.info = LineInfo(f"{call.func}()", call.span)
        if len(call.args) != 1:
            raise mod.error(f"{call.func}() takes one expression", call.span)
        t = g.temp("_term")
        g.emit(b, f"{t} = {g.expr(call.args[0], b, scope)}")
        terms.append(t)
    g.emit(b, f"return ({''.join(t + ', ' for t in terms)})")
    return g


def _gen_validator(mod: _Module) -> _Gen:
    """The fast path of input validation: ``raw -> dict``, or None to defer to `dsl.inputs.Validator`.

    It accepts only the common, unambiguous shapes (ints, decimals, booleans,
    ASCII text, known enum values, ISO dates, lists that convert cleanly) and
    checks constraints; anything else — including every invalid submission —
    returns None, and the general validator then decides and words every
    violation. On success both produce the same values.
    """
    plan = mod.plan
    g = _Gen(mod)
    g.emit(0, "def _validate(raw):")
    _emit_validation(g, 1)
    pairs = ", ".join(f"{i.name!r}: {mod.var(i.name)}" for i in plan.inputs)
    g.emit(1, f"return {{{pairs}}}")
    return g


def _emit_validation(g: _Gen, b: int) -> None:
    """Statements that load a raw submission's inputs into locals, or ``return None``."""
    from dsl.errors import FieldViolation
    from dsl.inputs import MISSING, converter_for, fast_list, literal_value

    mod = g.m
    plan = mod.plan
    # Required inputs are read with `raw[name]` (a missing one raises KeyError: defer);
    # None fails every type check below, so it needs no test of its own. Only inputs
    # with defaults are counted, to detect unknown keys by the submission's size.
    required = sum(1 for i in plan.inputs if i.default is None)
    checked: set[str] = set()
    g.emit(b, "_present = 0")
    g.emit(b, "try:")
    b += 1
    if not plan.inputs:
        g.emit(b, "pass")  # a ruleset without inputs: the try block still needs a statement
    for i in plan.inputs:
        g.info = LineInfo(f"input '{i.name}'", i.span)
        var = mod.var(i.name)
        default = MISSING
        if i.default is not None:
            errors: list[FieldViolation] = []
            default = converter_for(i.type)(literal_value(i.default), i.name, errors)
            if errors:
                default = MISSING
        if default is MISSING:
            g.emit(b, f"v = raw[{i.name!r}]")
            c = b
        else:
            g.emit(b, f"v = raw.get({i.name!r}, _MISSING)")
            g.emit(b, "if v is not _MISSING:")
            g.emit(b + 1, "_present += 1")
            g.emit(b, "if v is _MISSING or v is None:")
            g.emit(b + 1, f"{var} = {mod.const(default)}")
            if isinstance(i.type, n.SimpleType) and i.type.name == "int":
                g.emit(b + 1, f"{mod.int_var(i.name)} = {mod.const(int(default))}")
            g.emit(b, "else:")
            c = b + 1
        t = i.type
        if isinstance(t, n.EnumType):
            g.emit(c, f"if v.__class__ is not _str or v not in {mod.const(frozenset(t.values))}:")
            g.emit(c + 1, "return None")
            g.emit(c, f"{var} = v")
        elif isinstance(t, n.ListType):
            helper = mod.const(fast_list(converter_for(t)))
            g.emit(c, f"{var} = {helper}(v)")
            g.emit(c, f"if {var} is None:")
            g.emit(c + 1, "return None")
        elif t.name == "int":
            g.emit(c, "if v.__class__ is not _int:")
            g.emit(c + 1, "return None")
            # The Python int is kept too: constraints between whole numbers compare ints (faster).
            g.emit(c, f"{mod.int_var(i.name)} = v")
            # Small whole numbers (the usual counts) come from a table of ready Decimals;
            # magnitudes over 10**24 are refused (the general validator words it). A required
            # input with whole literal bounds is range-checked here, once (`checked`).
            lo, hi = -intpath.INPUT_LIMIT, intpath.INPUT_LIMIT
            literal = _literal_bounds(i) if default is MISSING else None
            if literal is not None:
                lo, hi = max(lo, literal[0]), min(hi, literal[1])
                checked.add(i.name)
            small_lo, small_hi = max(lo, 0), min(hi + 1, 1024)
            if small_lo < small_hi:
                g.emit(c, f"if {mod.const(small_lo)} <= v < {mod.const(small_hi)}:")
                g.emit(c + 1, f"{var} = _SMALL[v]")
                g.emit(c, f"elif {mod.const(lo)} <= v <= {mod.const(hi)}:")
            else:
                g.emit(c, f"if {mod.const(lo)} <= v <= {mod.const(hi)}:")
            g.emit(c + 1, f"{var} = _D(v)")
            g.emit(c, "else:")
            g.emit(c + 1, "return None")
        elif t.name == "decimal":
            g.emit(c, "if v.__class__ is _D and v.is_finite() and v.copy_abs() <= _MAXABS:")
            g.emit(c + 1, f"{var} = v")
            g.emit(c, "elif v.__class__ is _int and (_D(v)).copy_abs() <= _MAXABS:")
            g.emit(c + 1, f"{var} = _D(v)")
            g.emit(c, "else:")
            g.emit(c + 1, "return None")
        elif t.name == "bool":
            g.emit(c, "if v is not True and v is not False:")
            g.emit(c + 1, "return None")
            g.emit(c, f"{var} = v")
        elif t.name == "text":
            g.emit(c, "if v.__class__ is not _str or not v.isascii():")
            g.emit(c + 1, "return None")
            g.emit(c, f"{var} = v")
        else:  # date
            g.emit(c, f"{var} = _fast_date(v)")
            g.emit(c, f"if {var} is None:")
            g.emit(c + 1, "return None")
    b -= 1
    g.emit(b, "except _KeyError:")
    g.emit(b + 1, "return None")
    g.emit(b, f"if _len(raw) != {required} + _present:")
    g.emit(b + 1, "return None")
    scope = _Scope()
    ints = {x.name for x in plan.inputs if isinstance(x.type, n.SimpleType) and x.type.name == "int"}
    for i in plan.inputs:
        con = i.constraint
        if con is None or i.name in checked:
            continue
        g.info = LineInfo(f"input '{i.name}'", con.span)
        var = mod.var(i.name)
        bounds = (con.low,) if con.high is None else (con.low, con.high)
        if i.name in ints and all(_int_bound(x, ints, mod) for x in bounds):
            # Both sides whole numbers: compare the submitted Python ints (same outcome, exact).
            own = mod.int_var(i.name)
            low = _int_bound(con.low, ints, mod)
            if con.op == "in" and con.high is not None:
                g.emit(b, f"if not ({low} <= {own} <= {_int_bound(con.high, ints, mod)}):")
            else:
                g.emit(b, f"if not ({own} {con.op} {low}):")
            g.emit(b + 1, "return None")
            continue
        low = g.expr(con.low, b, scope)
        if con.op == "in" and con.high is not None:
            high = g.expr(con.high, b, scope)
            g.emit(b, f"if not ({low} <= {var} <= {high}):")
        else:
            g.emit(b, f"if not ({var} {con.op} {low}):")
        g.emit(b + 1, "return None")


def _literal_bounds(i: n.Input) -> tuple[int, int] | None:
    """``(low, high)`` of an int input whose constraint has only whole literal bounds (or none)."""
    con = i.constraint
    lo, hi = -intpath.INPUT_LIMIT, intpath.INPUT_LIMIT
    if con is None:
        return (lo, hi)
    values = [x.value for x in (con.low, con.high) if x is not None and isinstance(x, n.Number)]
    if len(values) != (1 if con.high is None else 2) or any(intpath.whole(v) is None for v in values):
        return None
    first = int(values[0])
    if con.op == "in":
        return (first, int(values[1]))
    return {">=": (first, hi), ">": (first + 1, hi), "<=": (lo, first), "<": (lo, first - 1)}.get(con.op)


def _int_bound(e: n.Expr, ints: set[str], mod: _Module) -> str:
    """Python source for a whole-number bound over ints (a literal or an int input), else ""."""
    if isinstance(e, n.Number) and e.value == e.value.to_integral_value():
        return mod.const(int(e.value))
    if isinstance(e, n.Name) and e.id in ints:
        return mod.int_var(e.id)
    return ""


def compile_plan(plan: rt.Plan) -> CompiledEvaluator:
    """Generate, compile and load the evaluator of a planned ruleset."""
    rs = plan.ruleset
    filename = f"<ruleset {rs.name} {rs.version}>"
    mod = _Module(plan, filename)
    mod.namespace.update(rt.namespace())
    mod.namespace["_Q"] = plan.quantum
    mod.namespace["_MODE"] = plan.mode
    mod.namespace["_PTS"] = rt.points_table(plan.places, plan.mode)
    gens = [
        _gen_unit(mod, False),
        _gen_unit(mod, True),
        _gen_unit(mod, False, fused=True),
        _gen_terms(mod),
        _gen_validator(mod),
    ]
    lines: list[str] = []
    info: list[LineInfo] = []
    sections: dict[str, tuple[int, str]] = {}
    for gen in gens:
        start = len(lines)
        for indent, text, li in gen.out:
            lines.append("    " * indent + text)
            info.append(li)
        name = gen.out[0][1][len("def ") :].split("(")[0]
        sections[name] = (start, "\n".join(lines[start:]) + "\n")
        lines.append("")
        info.append(LineInfo("ruleset", n.NO_SPAN))
    code = "\n".join(lines) + "\n"
    cached: Any = linecache.cache.get(filename)
    if cached is not None and len(cached) > 2 and cached[2] != code.splitlines(True):
        # Another ruleset with the same name and version (a draft): keep both readable.
        filename = f"<ruleset {rs.name} {rs.version} {hashlib.sha256(code.encode()).hexdigest()[:8]}>"
    # mtime None: linecache.checkcache() keeps the entry (there is no file to compare with).
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    evaluator = CompiledEvaluator(plan, filename, code, tuple(info), sections, mod.namespace)
    evaluator.function("_unit_raw")  # what scoring needs: compiled now, so a broken ruleset fails here
    return evaluator


def compile_ruleset(ruleset: n.Ruleset, source: str = "") -> CompiledEvaluator:
    """Plan and compile a checked ruleset (use `dsl.api.compile_ruleset` for text)."""
    return compile_plan(rt.build_plan(ruleset, source))


__all__ = ["CompiledEvaluator", "Failure", "LineInfo", "compile_plan", "compile_ruleset"]
