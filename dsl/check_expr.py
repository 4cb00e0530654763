"""Expression checking: name resolution, static types and the value rewrite.

This module owns what the checker does *inside* one expression: it resolves
every name against the scope the expression sits in (SPEC §1.3, §1.6, §1.7),
computes its static type (`dsl.types`), reports misuse at the offending span,
and returns the rewritten expression — bare enum/level values in value
positions become `EnumValue`, record fields inside ``where``/``of`` become
`FieldRef`. Declarations, cycles and warnings about the ruleset as a whole
live in `dsl.checker`, which drives this module.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from dsl import nodes as n
from dsl import types as t
from dsl.check_scope import (
    ANCHOR,
    ARITH,
    BLOC,
    BLOC_FUNCS,
    CONSTRAINT,
    LIST_FUNCS,
    NUMERIC_FUNCS,
    ORDERING,
    POINT_KINDS,
    ROTATION,
    ROTATION_FUNCS,
    Env,
    Scope,
    Symbol,
    article,
    article_type,
    bare_word,
    did_you_mean,
    is_bad,
    join,
    or_list,
    plural,
    same,
    unavailable,
)
from dsl.errors import ERROR, WARNING, Diagnostic
from dsl.types import Type

#: Names that exist only when their block is declared, with an example of the block.
MISSING_BLOCKS = {
    "level": ("classify", 'e.g. classify { level good "…" when score >= 80  level other "…" otherwise }'),
    "bonus": ("bonus", 'e.g. bonus "Điểm thưởng" max 5 { criterion … }'),
    "penalty": ("penalty", 'e.g. penalty "Điểm trừ" { criterion … }'),
}


def _err(diags: list[Diagnostic], message: str, span: n.Span, code: str, hint: str | None = None) -> None:
    diags.append(Diagnostic(ERROR, message, span, code, hint))


class ExprChecker:
    """Checks expressions against an `Env`; collects diagnostics and dependencies.

    ``deps`` collects the declared names (lets, criteria, groups, bonus,
    penalty, score, level) the current declaration uses — the checker turns
    them into the dependency graph. ``bloc_lets`` collects (let, span, func)
    for every let used inside a bloc aggregate, checked for purity later.
    ``uses_bloc`` is set when the current declaration contains a bloc aggregate.
    """

    def __init__(self, env: Env, diags: list[Diagnostic]) -> None:
        self.env = env
        self.diags = diags
        self.deps: list[str] = []
        self.bloc_lets: list[tuple[str, n.Span, str]] = []
        self.uses_bloc = False
        self._visible_cache: dict[tuple[object, ...], list[str]] = {}

    # ------------------------------------------------------------ entry points

    def expect(self, expr: n.Expr, scope: Scope, want: str, what: str) -> tuple[n.Expr, Type]:
        """Check ``expr`` and require a type of kind ``want`` (bool, number …)."""
        out, ty = self.expr(expr, scope)
        if not is_bad(ty) and ty.kind != want:
            _err(
                self.diags,
                f"{what} must be {article(want)}, but this is {article_type(ty, self.env)}",
                expr.span,
                "type",
            )
        return out, ty

    def sort_key(self, expr: n.Expr, scope: Scope, what: str) -> n.Expr:
        """A ranking key: a number or a date."""
        out, ty = self.expr(expr, scope)
        if not is_bad(ty) and ty.kind not in ("number", "date"):
            _err(
                self.diags,
                f"{what} must be a number or a date, but this is {article_type(ty, self.env)}",
                expr.span,
                "type",
            )
        return out

    def value(self, expr: n.Expr, expected: Type, scope: Scope) -> tuple[n.Expr, Type]:
        """Check ``expr`` in a value position of type ``expected`` (SPEC §1.3):
        a bare name that is one of the expected enum's or level's values becomes
        an `EnumValue` and wins over a declared name of the same spelling."""
        bare = bare_word(expr)
        if (
            bare is not None
            and expected.kind == "error"
            and bare in self.env.value_owners
            and not self._resolvable(bare, scope)
        ):
            return expr, t.ERROR  # the other side already failed: a value here is no news
        if bare is not None and t.has_values(expected):
            if bare in expected.values:
                return n.EnumValue(bare, span=expr.span), expected
            if isinstance(expr, n.Name) and self._resolvable(bare, scope):
                return self.expr(expr, scope)
            owner = self._owner(expected)
            _err(
                self.diags,
                f"unknown value '{bare}' of {owner}",
                expr.span,
                "unknown-value",
                did_you_mean(bare, expected.values) or f"the values are: {', '.join(expected.values)}",
            )
            return expr, t.ERROR
        return self.expr(expr, scope)

    # ----------------------------------------------------------- expressions

    def expr(self, e: n.Expr, scope: Scope) -> tuple[n.Expr, Type]:
        """Check one expression; return it rewritten with its type."""
        method = getattr(self, "_" + type(e).__name__)
        result: tuple[n.Expr, Type] = method(e, scope)
        return result

    def _Number(self, e: n.Number, scope: Scope) -> tuple[n.Expr, Type]:
        return e, t.INT if e.kind == "int" else t.NUMBER

    def _DateLit(self, e: n.DateLit, scope: Scope) -> tuple[n.Expr, Type]:
        return e, t.DATE

    def _BoolLit(self, e: n.BoolLit, scope: Scope) -> tuple[n.Expr, Type]:
        return e, t.BOOL

    def _StringLit(self, e: n.StringLit, scope: Scope) -> tuple[n.Expr, Type]:
        return e, t.TEXT

    def _ListValue(self, e: n.ListValue, scope: Scope) -> tuple[n.Expr, Type]:
        _err(self.diags, "a list literal can only be given in a test's `given`", e.span, "type")
        return e, t.ERROR

    def _RecordValue(self, e: n.RecordValue, scope: Scope) -> tuple[n.Expr, Type]:
        _err(self.diags, "a record literal can only be given in a test's `given`", e.span, "type")
        return e, t.ERROR

    def _EnumValue(self, e: n.EnumValue, scope: Scope) -> tuple[n.Expr, Type]:
        # Re-checking an already rewritten tree: a value outside a value position.
        return self._bare_value_error(e.value, e.span)

    def _FieldRef(self, e: n.FieldRef, scope: Scope) -> tuple[n.Expr, Type]:
        if e.name in scope.fields:
            return e, scope.fields[e.name]
        _err(self.diags, f"'{e.name}' is a record field, usable only inside `where`/`of`", e.span, "scope")
        return e, t.ERROR

    def _Name(self, e: n.Name, scope: Scope) -> tuple[n.Expr, Type]:
        name = e.id
        if name in scope.fields:
            return n.FieldRef(name, span=e.span), scope.fields[name]
        sym = self.env.symbols.get(name)
        if sym is not None:
            problem = unavailable(sym, scope, self.env)
            if problem is not None:
                message, hint = problem
                _err(self.diags, message, e.span, "scope", hint)
                return e, t.ERROR
            return e, self._use(sym, e.span, scope)
        if name in self.env.value_owners:
            return self._bare_value_error(name, e.span)
        if name in MISSING_BLOCKS:
            block, example = MISSING_BLOCKS[name]
            _err(
                self.diags,
                f"'{name}' needs a `{block}` block, and this ruleset has none",
                e.span,
                "scope",
                example,
            )
            return e, t.ERROR
        _err(
            self.diags,
            f"unknown name '{name}'",
            e.span,
            "unknown-name",
            did_you_mean(name, self._visible(scope)),
        )
        return e, t.ERROR

    def _Attribute(self, e: n.Attribute, scope: Scope) -> tuple[n.Expr, Type]:
        if scope.kind not in (ROTATION, ANCHOR):
            _err(
                self.diags,
                f"'{e.obj}.{e.attr}' is only available inside `rotation`",
                e.span,
                "scope",
            )
            return e, t.ERROR
        if e.obj not in ("current", "elected") or e.attr not in ("leader", "deputy"):
            _err(
                self.diags,
                f"unknown unit reference '{e.obj}.{e.attr}'",
                e.span,
                "unknown-name",
                "use current.leader, current.deputy, elected.leader or elected.deputy",
            )
            return e, t.ERROR
        return e, t.UNIT

    def _Unary(self, e: n.Unary, scope: Scope) -> tuple[n.Expr, Type]:
        operand, ty = self.expr(e.operand, scope)
        out = replace(e, operand=operand)
        if e.op == "not":
            if not is_bad(ty) and ty.kind != "bool":
                _err(
                    self.diags,
                    f"`not` needs a bool, but this is {article_type(ty, self.env)}",
                    e.operand.span,
                    "type",
                )
            return out, t.BOOL
        if not is_bad(ty) and ty.kind != "number":
            _err(
                self.diags,
                f"`-` needs a number, but this is {article_type(ty, self.env)}",
                e.operand.span,
                "type",
            )
            return out, t.ERROR
        return out, ty if not is_bad(ty) else t.ERROR

    def _Binary(self, e: n.Binary, scope: Scope) -> tuple[n.Expr, Type]:
        if e.op in ("and", "or"):
            left, lt = self.expr(e.left, scope)
            right, rt = self.expr(e.right, scope)
            for side, ty in ((e.left, lt), (e.right, rt)):
                if not is_bad(ty) and ty.kind != "bool":
                    _err(
                        self.diags,
                        f"`{e.op}` needs bools, but this is {article_type(ty, self.env)}",
                        side.span,
                        "type",
                    )
            return replace(e, left=left, right=right), t.BOOL
        if e.op in ARITH:
            return self._arith(e, scope)
        return self._compare(e, scope)

    def _arith(self, e: n.Binary, scope: Scope) -> tuple[n.Expr, Type]:
        left, lt = self.expr(e.left, scope)
        right, rt = self.expr(e.right, scope)
        out = replace(e, left=left, right=right)
        if e.op == "/" and rt.kind == "number":
            self._divisor(e.right)
        if is_bad(lt, rt):
            return out, t.ERROR
        if lt.kind != "number" or rt.kind != "number":
            _err(
                self.diags,
                f"`{e.op}` needs numbers, but this is {article_type(lt, self.env)} "
                f"{e.op} {article_type(rt, self.env)}",
                e.span,
                "type",
            )
            return out, t.ERROR
        if e.op == "/":
            return out, t.NUMBER
        return out, t.INT if lt.integral and rt.integral else t.NUMBER

    def _divisor(self, divisor: n.Expr) -> None:
        inner = divisor
        while isinstance(inner, n.Unary) and inner.op == "-":
            inner = inner.operand
        if isinstance(inner, n.Number) and inner.value == 0:
            _err(self.diags, "division by zero", divisor.span, "division-by-zero")
            return
        if isinstance(inner, n.Name):
            sym = self.env.symbols.get(inner.id)
            if sym is not None and sym.kind == "input":
                reason = self.env.zero_reason(inner.id)
                if reason is not None:
                    self.diags.append(
                        Diagnostic(
                            WARNING,
                            f"division by '{inner.id}', whose declared range includes 0 ({reason})",
                            divisor.span,
                            "division-range",
                            f"constrain the input, e.g. `input {inner.id}: int >= 1`, "
                            "or guard the division with `if`",
                        )
                    )

    def _pair(self, a: n.Expr, b: n.Expr, scope: Scope) -> tuple[n.Expr, Type, n.Expr, Type]:
        """Check both operands of a comparison: either may be a bare value
        resolved by the other's type (SPEC §1.3)."""
        a_id, b_id = bare_word(a), bare_word(b)
        # The right side decides when the left is a bare word and the right is not, or when
        # both are and the right one's type knows the left as a value (or the left is no name here).
        right_first = a_id is not None
        if a_id is not None and b_id is not None:
            at, bt = self._peek(a_id, scope), self._peek(b_id, scope)
            right_first = bt is not None and ((t.has_values(bt) and a_id in bt.values) or at is None)
        if right_first:
            b2, bt2 = self.expr(b, scope)
            a2, at2 = self.value(a, bt2, scope)
        else:
            a2, at2 = self.expr(a, scope)
            b2, bt2 = self.value(b, at2, scope)
        return a2, at2, b2, bt2

    def _compare(self, e: n.Binary, scope: Scope) -> tuple[n.Expr, Type]:
        left, lt, right, rt = self._pair(e.left, e.right, scope)
        out = replace(e, left=left, right=right)
        if is_bad(lt, rt):
            return out, t.BOOL
        if e.op in ORDERING and (lt.kind not in ("number", "date") or rt.kind not in ("number", "date")):
            bad = lt if lt.kind not in ("number", "date") else rt
            _err(
                self.diags,
                f"`{e.op}` compares numbers or dates, not {plural(bad, self.env)}",
                e.span,
                "type",
                "use == or != (or `in [...]`) for enums, levels and text" if bad.kind != "bool" else None,
            )
            return out, t.BOOL
        if not same(lt, rt) and not (lt.kind == rt.kind == "number"):
            _err(
                self.diags,
                f"cannot compare {article_type(lt, self.env)} with {article_type(rt, self.env)}",
                e.span,
                "type",
            )
        elif lt.kind == "list":
            _err(self.diags, "lists cannot be compared; use count(…), any(…) or all(…)", e.span, "type")
        return out, t.BOOL

    def _InList(self, e: n.InList, scope: Scope) -> tuple[n.Expr, Type]:
        operand, ot = self.expr(e.operand, scope)
        if not is_bad(ot) and ot.kind in ("bool", "list"):
            _err(
                self.diags,
                f"`in [...]` needs an enum, level, text, number or unit, not {article_type(ot, self.env)}",
                e.operand.span,
                "type",
            )
            ot = t.ERROR
        options: list[n.Expr] = []
        for opt in e.options:
            if is_bad(ot):
                o2, _ = self.expr(opt, scope) if bare_word(opt) is None else (opt, t.ERROR)
                options.append(o2)
                continue
            o2, otype = self.value(opt, ot, scope)
            if not is_bad(otype) and join(ot, otype) is None:
                _err(
                    self.diags,
                    f"this option is {article_type(otype, self.env)}, but the tested value is "
                    f"{article_type(ot, self.env)}",
                    opt.span,
                    "type",
                )
            options.append(o2)
        return replace(e, operand=operand, options=tuple(options)), t.BOOL

    def _IfExpr(self, e: n.IfExpr, scope: Scope) -> tuple[n.Expr, Type]:
        cond, _ = self.expect(e.cond, scope, "bool", "the condition of `if`")
        then, tt = self.expr(e.then, scope)
        other, ot = self.expr(e.otherwise, scope)
        out = replace(e, cond=cond, then=then, otherwise=other)
        common = join(tt, ot)
        if common is None:
            _err(
                self.diags,
                f"the branches of `if` differ: `then` gives {article_type(tt, self.env)}, "
                f"`else` gives {article_type(ot, self.env)}",
                e.otherwise.span,
                "type",
            )
            return out, t.ERROR
        return out, common

    def _Table(self, e: n.Table, scope: Scope) -> tuple[n.Expr, Type]:
        subject, st = self.expr(e.subject, scope)
        rows: list[n.TableRow] = []
        result: Type | None = None
        covered: set[str] = set()
        for row in e.rows:
            values: list[n.Expr] = []
            for v in row.values:
                if row.op in ("==", "in", "!="):
                    v2, vt = self.value(v, st, scope)
                    # Only equality rows cover a value; `!=` rows never make `else` optional.
                    if row.op != "!=" and isinstance(v2, n.EnumValue):
                        covered.add(v2.value)
                    elif row.op != "!=" and isinstance(v2, n.BoolLit):
                        covered.add(str(v2.value))
                else:
                    v2, vt = self.expr(v, scope)
                    if not is_bad(st) and st.kind not in ("number", "date"):
                        _err(
                            self.diags,
                            f"a `when {row.op}` row needs a number or date subject, "
                            f"but the table tests {article_type(st, self.env)}",
                            row.span,
                            "type",
                        )
                        st = t.ERROR
                if not is_bad(st, vt) and join(st, vt) is None:
                    _err(
                        self.diags,
                        f"this row tests {article_type(vt, self.env)}, but the table's subject is "
                        f"{article_type(st, self.env)}",
                        v.span,
                        "type",
                    )
                values.append(v2)
            res, rt = self.expr(row.result, scope)
            result = self._branch(result, rt, row.result.span)
            rows.append(replace(row, values=tuple(values), result=res))
        default = None
        if e.default is not None:
            default, dt = self.expr(e.default, scope)
            result = self._branch(result, dt, e.default.span)
        elif not is_bad(st):
            self._coverage(e, st, covered)
        out = replace(e, subject=subject, rows=tuple(rows), default=default)
        return out, result if result is not None else t.ERROR

    def _branch(self, so_far: Type | None, ty: Type, span: n.Span) -> Type:
        if so_far is None:
            return ty
        common = join(so_far, ty)
        if common is None:
            _err(
                self.diags,
                f"this table result is {article_type(ty, self.env)}, but earlier rows give "
                f"{article_type(so_far, self.env)}",
                span,
                "type",
            )
            return so_far
        return common

    def _coverage(self, e: n.Table, st: Type, covered: set[str]) -> None:
        if t.has_values(st):
            missing = [v for v in st.values if v not in covered]
            if missing:
                _err(
                    self.diags,
                    f"table on {self._owner(st)} has no `else` and no row for: {', '.join(missing)}",
                    e.span,
                    "table-coverage",
                    "add the missing rows or an `else`",
                )
        elif st.kind == "bool":
            if not {"True", "False"} <= covered:
                _err(
                    self.diags,
                    "table on a bool has no `else` and does not cover true and false",
                    e.span,
                    "table-coverage",
                )
        else:
            _err(
                self.diags,
                f"a table on {article_type(st, self.env)} needs an `else`",
                e.span,
                "table-coverage",
                "only a table whose rows cover every value of an enum may omit `else`",
            )

    # -------------------------------------------------------------- functions

    def _Call(self, e: n.Call, scope: Scope) -> tuple[n.Expr, Type]:
        f = e.func
        if f in NUMERIC_FUNCS:
            return self._numeric_call(e, scope)
        if f in BLOC_FUNCS:
            return self._bloc_call(e, scope)
        if f in ROTATION_FUNCS and scope.kind == ROTATION:
            return self._rotation_call(e, scope)
        if f in LIST_FUNCS:
            args = tuple(self.expr(a, scope)[0] for a in e.args)
            if f == "sum" and len(e.args) == 1:
                msg = "`sum` over a list needs `of`: sum(LIST of EXPR [where COND])"
            elif f in ("any", "all"):
                msg = f"`{f}` takes one list and a condition: {f}(LIST where COND)"
            else:
                msg = "`count` takes one list: count(LIST) or count(LIST where COND)"
            _err(self.diags, msg, e.span, "arity")
            return replace(e, args=args), t.ERROR
        args = tuple(self.expr(a, scope)[0] for a in e.args)
        if f in ROTATION_FUNCS:
            _err(
                self.diags,
                f"`{f}(unit)` is only available inside a rotation's `where`",
                e.span,
                "scope",
                f"outside rotation, write `{f}`" if f in ("rank", "score", "level") else None,
            )
        else:
            known = [*NUMERIC_FUNCS, *LIST_FUNCS, *BLOC_FUNCS]
            if scope.kind == ROTATION:
                known += list(ROTATION_FUNCS)
            _err(self.diags, f"unknown function '{f}'", e.span, "unknown-function", did_you_mean(f, known))
        return replace(e, args=args), t.ERROR

    def _numeric_call(self, e: n.Call, scope: Scope) -> tuple[n.Expr, Type]:
        f = e.func
        checked = [self.expr(a, scope) for a in e.args]
        args = tuple(a for a, _ in checked)
        out = replace(e, args=args)
        arity = {"clamp": 3, "round": 2, "floor": 1, "ceil": 1, "abs": 1}
        usage = {
            "min": "min(a, b, …)",
            "max": "max(a, b, …)",
            "clamp": "clamp(x, lo, hi)",
            "round": "round(x, places)",
            "floor": "floor(x)",
            "ceil": "ceil(x)",
            "abs": "abs(x)",
        }[f]
        expected = arity.get(f)
        if (expected is not None and len(args) != expected) or (expected is None and not args):
            want = f"{expected} argument{'s' if expected != 1 else ''}" if expected else "at least 1 argument"
            _err(self.diags, f"`{f}` takes {want}, got {len(args)}: {usage}", e.span, "arity")
            return out, t.ERROR
        bad = False
        for (_a, ty), src in zip(checked, e.args, strict=True):
            if is_bad(ty):
                bad = True
            elif ty.kind != "number":
                _err(
                    self.diags,
                    f"`{f}` needs numbers, but this is {article_type(ty, self.env)}",
                    src.span,
                    "type",
                )
                bad = True
        if f == "round":
            places = e.args[1]
            if not (isinstance(places, n.Number) and places.kind == "int"):
                _err(
                    self.diags,
                    "the places of `round` must be a whole number literal, e.g. round(x, 2)",
                    places.span,
                    "type",
                )
            elif places.value > 10:
                _err(
                    self.diags,
                    f"round to {places.value} places is more than the 10 places allowed",
                    places.span,
                    "type",
                )
        if bad:
            return out, t.ERROR
        if f in ("floor", "ceil"):
            return out, t.INT
        if f == "round":
            return out, t.INT if e.args[1] == n.Number(Decimal(0), "int", "0") else t.NUMBER
        if f in ("min", "max", "abs", "clamp"):
            return out, t.INT if all(ty.integral for _a, ty in checked) else t.NUMBER
        return out, t.NUMBER  # pragma: no cover - every numeric function is handled above

    def _bloc_call(self, e: n.Call, scope: Scope) -> tuple[n.Expr, Type]:
        f = e.func
        if scope.kind == BLOC:
            _err(self.diags, f"`{f}` cannot be nested inside another bloc aggregate", e.span, "bloc")
            return e, t.ERROR
        if scope.kind in (ROTATION, ANCHOR, CONSTRAINT):
            _err(self.diags, f"`{f}` is not available here", e.span, "scope")
            return e, t.ERROR
        self.uses_bloc = True
        if len(e.args) != 1:
            _err(self.diags, f"`{f}` takes one argument, got {len(e.args)}", e.span, "arity")
            return replace(e, args=tuple(self.expr(a, scope)[0] for a in e.args)), t.ERROR
        inner = Scope(BLOC, scope.fields, owner=f)
        if f == "bloc_count":
            arg, _ = self.expect(e.args[0], inner, "bool", f"the condition of `{f}`")
            result = t.INT
        else:
            arg, _ = self.expect(e.args[0], inner, "number", f"the argument of `{f}`")
            result = t.NUMBER
        return replace(e, args=(arg,)), result

    def _rotation_call(self, e: n.Call, scope: Scope) -> tuple[n.Expr, Type]:
        f = e.func
        want = {"rank": 1, "score": 1, "level": 1, "awarded": 2, "held": 3}[f]
        usage = {
            "rank": "rank(unit)",
            "score": "score(unit)",
            "level": "level(unit)",
            "awarded": "awarded(unit, TITLE)",
            "held": "held(unit, leader|deputy, N)",
        }[f]
        if len(e.args) != want:
            _err(
                self.diags, f"`{f}` takes {want} argument{'s' if want > 1 else ''}: {usage}", e.span, "arity"
            )
            return e, t.ERROR
        first, ft = self.expr(e.args[0], scope)
        if not is_bad(ft) and ft.kind != "unit":
            _err(
                self.diags,
                f"the first argument of `{f}` must be a unit, e.g. {usage}",
                e.args[0].span,
                "type",
            )
        args: list[n.Expr] = [first, *e.args[1:]]
        if f == "awarded":
            title = e.args[1]
            if not (isinstance(title, n.Name) and title.id in self.env.title_index):
                _err(
                    self.diags,
                    "the second argument of `awarded` must be a title name",
                    title.span,
                    "unknown-name",
                    did_you_mean(title.id, self.env.title_index) if isinstance(title, n.Name) else None,
                )
        if f == "held":
            role, count = e.args[1], e.args[2]
            if not (isinstance(role, n.Name) and role.id in ("leader", "deputy")):
                _err(
                    self.diags,
                    "the second argument of `held` must be `leader` or `deputy`",
                    role.span,
                    "type",
                )
            if not (isinstance(count, n.Number) and count.kind == "int" and count.value >= 1):
                _err(
                    self.diags,
                    "the third argument of `held` must be a whole number of periods, at least 1",
                    count.span,
                    "type",
                )
        result = {
            "rank": t.INT,
            "score": t.NUMBER,
            "level": self.env.symbols["level"].type if self.env.has_classify else t.ERROR,
            "awarded": t.BOOL,
            "held": t.BOOL,
        }[f]
        if f == "level" and not self.env.has_classify:
            _err(self.diags, "`level(unit)` needs a `classify` block", e.span, "scope")
        return replace(e, args=tuple(args)), result

    def _ListAgg(self, e: n.ListAgg, scope: Scope) -> tuple[n.Expr, Type]:
        f = e.func
        source, st = self.expr(e.source, scope)
        if not is_bad(st) and st.kind != "list":
            _err(
                self.diags,
                f"`{f}` needs a list input, but this is {article_type(st, self.env)}",
                e.source.span,
                "type",
            )
            st = t.ERROR
        fields: dict[str, Type] = dict(scope.fields)
        if not is_bad(st):
            fields.update(st.fields)
        inner = replace(scope, fields=fields)
        of = where = None
        if e.of is not None:
            of, _ = self.expect(e.of, inner, "number", f"the `of` expression of `{f}`")
        if e.where is not None:
            where, _ = self.expect(e.where, inner, "bool", f"the `where` condition of `{f}`")
        out = replace(e, source=source, of=of, where=where)
        if f not in LIST_FUNCS:
            _err(
                self.diags,
                f"`{f}` does not take `where` or `of`",
                e.span,
                "unknown-function",
                "over a list use count, any, all or sum",
            )
            return out, t.ERROR
        if f == "sum" and e.of is None:
            _err(self.diags, "`sum` over a list needs `of`: sum(LIST of EXPR [where COND])", e.span, "arity")
            return out, t.ERROR
        if f != "sum" and e.of is not None:
            _err(self.diags, f"`{f}` does not take `of`; only sum(LIST of EXPR) does", e.span, "arity")
            return out, t.ERROR
        if f in ("any", "all") and e.where is None:
            _err(self.diags, f"`{f}` needs a condition: {f}(LIST where COND)", e.span, "arity")
            return out, t.ERROR
        return out, {"count": t.INT, "any": t.BOOL, "all": t.BOOL, "sum": t.NUMBER}[f]

    # ---------------------------------------------------------------- names

    def _resolvable(self, name: str, scope: Scope) -> bool:
        return name in scope.fields or name in self.env.symbols

    def _peek(self, name: str, scope: Scope) -> Type | None:
        """The type ``name`` would have here, without reporting anything."""
        if name in scope.fields:
            return scope.fields[name]
        sym = self.env.symbols.get(name)
        if sym is None or unavailable(sym, scope, self.env) is not None:
            return None
        return self.env.let_type(name) if sym.kind == "let" else sym.type

    def _use(self, sym: Symbol, span: n.Span, scope: Scope) -> Type:
        if sym.kind in ("let", *POINT_KINDS):
            self.deps.append(sym.name)
        if scope.kind == BLOC and sym.kind == "let":
            self.bloc_lets.append((sym.name, span, scope.owner))
        if sym.kind == "let":
            return self.env.let_type(sym.name)
        return sym.type

    def _visible(self, scope: Scope) -> list[str]:
        """The names usable in ``scope``, for suggestions; computed once per kind of scope
        so that many unknown names do not rescan every symbol each time."""
        key = (
            scope.kind,
            scope.title_index,
            scope.leader,
            scope.input_name,
            tuple(scope.fields),
        )
        names = self._visible_cache.get(key)
        if names is None:
            names = list(scope.fields)
            names += [s.name for s in self.env.symbols.values() if unavailable(s, scope, self.env) is None]
            self._visible_cache[key] = names
        return names

    def _bare_value_error(self, name: str, span: n.Span) -> tuple[n.Expr, Type]:
        owners = self.env.value_owners.get(name, [])
        _err(
            self.diags,
            f"'{name}' is a value of {or_list(owners)}, but no enum or level is expected here",
            span,
            "bare-value",
            _compare_hint(name, owners),
        )
        return n.Name(name, span=span), t.ERROR

    def _owner(self, ty: Type) -> str:
        if ty.kind == "level":
            return "level"
        return self.env.enum_names.get(ty.values, str(ty))


def _compare_hint(value: str, owners: list[str]) -> str | None:
    """How the author probably meant to use a bare value: compared with what it belongs to."""
    if not owners:
        return None
    owner = owners[0]
    if "." in owner:
        listed, field = owner.split(".", 1)
        return f"compare it, e.g. `count({listed} where {field} == {value})`"
    return f"compare it, e.g. `{owner} == {value}`"
