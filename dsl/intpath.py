"""Exact Python-int code for whole-number expressions, and criterion points computed cheaply.

This module owns two code-generation shortcuts of `dsl.compiler`, both
required to give results identical to the 28-digit decimal arithmetic of
SPEC §1.4 (the property tests compare them with `dsl.interpreter`):

* `int_expr`: an expression built only from whole-number literals, ``int``
  inputs (in the fused scoring function, where their Python ints are kept),
  ``+ - *``, ``min``/``max``/``abs``/``clamp``/``floor``/``ceil`` and
  ``count(...)`` becomes Python int arithmetic, with a static range. Every
  intermediate value is proven below 10**27 in magnitude (from the inputs'
  constraints and the validator's 10**24 limit), so the decimal result would
  be exact too — and equal. Anything else (a division, a decimal literal, a
  range that could outgrow 28 digits) answers None: the decimal code is used.
  Int values are only *consumed* here (comparisons, criterion points), never
  exposed, so the sign of a decimal zero (``0 * -3`` is ``-0``) cannot leak.
* `emit_points`: a criterion's points ``round(clamp(raw, 0, max))`` without
  the generic decimal steps where they are provably unnecessary: an ``if`` or
  ``table`` pushes the computation into its branches (still evaluating only
  the branch taken), a constant branch's points are computed at compile time,
  a whole-number branch clamps as an int (skipping a bound its range cannot
  reach) and takes its rounded Decimal from a table; the rest runs the
  generic decimal steps.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from dsl import nodes as n
from dsl import runtime as rt
from dsl.inputs import MAX_ABS

if TYPE_CHECKING:
    from dsl.compiler import _Gen, _Scope

#: Every value computed in Python ints stays below this magnitude; decimal arithmetic on the
#: same values (≤ 28 significant digits) is then exact, so both give the same number.
LIMIT = 10**27
#: Whole-number inputs above this magnitude are refused by validation (`dsl.inputs.MAX_ABS`).
INPUT_LIMIT = int(MAX_ABS)
#: A list is a Python object in memory: its length is far below this.
COUNT_LIMIT = 2**62

Range = tuple[int, int]
IntCode = tuple[str, int, int]


def whole(value: Decimal) -> int | None:
    """The int of a literal written as a whole number (exponent 0: ``2``, not ``2.0`` or ``2E1``)."""
    if value.is_finite() and value.as_tuple().exponent == 0:
        return int(value)
    return None


def input_ranges(plan: rt.Plan) -> dict[str, Range]:
    """Static ranges of the ``int`` inputs after validation (constraints with literal or int-input bounds)."""
    ints = [i for i in plan.inputs if isinstance(i.type, n.SimpleType) and i.type.name == "int"]
    ranges: dict[str, Range] = {i.name: (-INPUT_LIMIT, INPUT_LIMIT) for i in ints}

    def bound(e: n.Expr, side: int) -> int | None:
        if isinstance(e, n.Number) and e.value.is_finite():
            v = e.value.to_integral_value(decimal.ROUND_CEILING if side == 0 else decimal.ROUND_FLOOR)
            return int(v)
        if isinstance(e, n.Name) and e.id in ranges:
            return ranges[e.id][side]
        return None

    # Bounds may name other int inputs; two passes settle the usual chains (a in 0..b, b >= 1).
    for _ in range(2):
        for i in ints:
            con = i.constraint
            if con is None:
                continue
            lo, hi = -INPUT_LIMIT, INPUT_LIMIT
            if con.op == "in" and con.high is not None:
                low, high = bound(con.low, 0), bound(con.high, 1)
                lo = lo if low is None else max(lo, low)
                hi = hi if high is None else min(hi, high)
            elif con.op in (">=", ">"):
                low = bound(con.low, 0)
                if low is not None:
                    lo = max(lo, low + (1 if con.op == ">" and _is_int_bound(con.low) else 0))
            elif con.op in ("<=", "<"):
                high = bound(con.low, 1)
                if high is not None:
                    hi = min(hi, high - (1 if con.op == "<" and _is_int_bound(con.low) else 0))
            if lo <= hi:
                ranges[i.name] = (lo, hi)
    return ranges


def _is_int_bound(e: n.Expr) -> bool:
    # `x > 2.5` already rounds its bound up to 3; only a whole bound moves by one.
    return not (isinstance(e, n.Number) and e.value != e.value.to_integral_value())


def _ok(lo: int, hi: int) -> bool:
    return -LIMIT < lo and hi < LIMIT


def int_expr(g: _Gen, e: n.Expr, ind: int, scope: _Scope) -> IntCode | None:
    """Python int source for ``e`` with its static range, or None (the caller uses decimals).

    May emit statements (a ``count`` loop); on None nothing is left emitted.
    """
    mark = len(g.out)
    temps = g.temps
    got = _int(g, e, ind, scope)
    if got is None:
        del g.out[mark:]
        g.temps = temps
    return got


def _int(g: _Gen, e: n.Expr, ind: int, scope: _Scope) -> IntCode | None:
    m = g.m
    folded = _constant(e)
    if folded is not None:
        v = whole(folded)
        if v is None or not _ok(v, v):
            return None
        return (m.const(v), v, v)
    if isinstance(e, n.Name):
        r = m.int_inputs.get(e.id) if g.int_inputs and e.id not in scope.fields else None
        if r is None:
            return None
        return (m.int_var(e.id), r[0], r[1])
    if isinstance(e, n.Unary) and e.op == "-":
        inner = _int(g, e.operand, ind, scope)
        if inner is None:
            return None
        return (f"(-{inner[0]})", -inner[2], -inner[1])
    if isinstance(e, n.Binary) and e.op in ("+", "-", "*"):
        left = _int(g, e.left, ind, scope)
        right = _int(g, e.right, ind, scope) if left is not None else None
        if left is None or right is None:
            return None
        (a, alo, ahi), (b, blo, bhi) = left, right
        if e.op == "+":
            lo, hi = alo + blo, ahi + bhi
        elif e.op == "-":
            lo, hi = alo - bhi, ahi - blo
        else:
            products = (alo * blo, alo * bhi, ahi * blo, ahi * bhi)
            lo, hi = min(products), max(products)
        if not _ok(lo, hi):
            return None
        return (g.hoist(f"({a} {e.op} {b})", ind), lo, hi)
    if isinstance(e, n.Call) and e.func in ("min", "max", "abs", "clamp", "floor", "ceil"):
        return _int_call(g, e, ind, scope)
    if isinstance(e, n.ListAgg) and e.func == "count":
        acc = g.list_agg(e, ind, scope)  # `_D(acc)`: the loop counts in the int `acc`
        return (acc[len("_D(") : -1], 0, COUNT_LIMIT)
    return None


def emit_count_let(g: _Gen, name: str, e: n.Expr, ind: int, scope: _Scope) -> bool:
    """``let x = count(…)`` in the fused function: keeps the int count too (``i_x``) for int code.

    The let's value is ``Decimal(count)`` exactly as the decimal code computes it.
    """
    if not (isinstance(e, n.ListAgg) and e.func == "count" and g.int_inputs):
        return False
    got = int_expr(g, e, ind, scope)
    if got is None:
        return False
    m = g.m
    g.emit(ind, f"{m.int_var(name)} = {got[0]}")
    g.emit(ind, f"{m.var(name)} = _D({m.int_var(name)})")
    # Only the fused function has `i_` locals; `_Gen.int_inputs` keeps the others from using it.
    m.int_inputs[name] = (got[1], got[2])
    return True


def _int_call(g: _Gen, e: n.Call, ind: int, scope: _Scope) -> IntCode | None:
    args: list[IntCode] = []
    for a in e.args:
        got = _int(g, a, ind, scope)
        if got is None:
            return None
        args.append(got)
    src = [a[0] for a in args]
    if e.func in ("floor", "ceil") and len(args) == 1:
        return args[0]  # a whole number already
    if e.func == "abs" and len(args) == 1:
        _, lo, hi = args[0]
        low = 0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        return (f"_abs({src[0]})", low, max(abs(lo), abs(hi)))
    if e.func in ("min", "max") and args:
        pick = min if e.func == "min" else max
        lo = pick(a[1] for a in args)
        hi = pick(a[2] for a in args)
        return (g.hoist(f"_{e.func}({', '.join(src)})", ind), lo, hi)
    if e.func == "clamp" and len(args) == 3:
        (_, xlo, xhi), (_, llo, lhi), (_, hlo, hhi) = args
        # min(max(x, low), high): the floor wins if the bounds cross, as `rt.clamp` does.
        lo, hi = min(max(xlo, llo), hlo), min(max(xhi, lhi), hhi)
        return (g.hoist(f"_clamp({src[0]}, {src[1]}, {src[2]})", ind), lo, hi)
    return None


def _constant(e: n.Expr) -> Decimal | None:
    if isinstance(e, (n.Number, n.Unary, n.Binary)):
        return constant_value(e)
    return None


def constant_value(e: n.Expr) -> Decimal | None:
    """The value of arithmetic on literals only (``10 * 0.75``), computed now in `CTX`, else None.

    Folding runs the same decimal operations the generated code would, so
    results are identical; a constant that cannot be computed (the checker
    rejects ``1 / 0``) is left for run time to report.
    """
    if isinstance(e, n.Number):
        return e.value
    if isinstance(e, n.Unary) and e.op == "-":
        inner = constant_value(e.operand)
        return None if inner is None else _fold(lambda: -inner)
    if isinstance(e, n.Binary) and e.op in ("+", "-", "*", "/"):
        left = constant_value(e.left)
        right = constant_value(e.right) if left is not None else None
        if left is None or right is None:
            return None
        ops: dict[str, Callable[[], Decimal]] = {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
        }
        return _fold(ops[e.op])
    return None


def _fold(compute: Callable[[], Decimal]) -> Decimal | None:
    try:
        with decimal.localcontext(rt.CTX):
            return compute()
    except ArithmeticError:
        return None


def int_comparison(g: _Gen, e: n.Binary, ind: int, scope: _Scope) -> str | None:
    """``a OP b`` over Python ints when both sides are whole-number expressions (same truth value)."""
    mark = len(g.out)
    temps = g.temps
    left = _int(g, e.left, ind, scope)
    right = _int(g, e.right, ind, scope) if left is not None else None
    if left is None or right is None:
        del g.out[mark:]
        g.temps = temps
        return None
    return g.hoist(f"({left[0]} {e.op} {right[0]})", ind)


# ------------------------------------------------------------------ criterion points


def points_of(value: Decimal, mx: Decimal | None, quantum: Decimal, mode: str) -> Decimal | None:
    """``round(clamp(value, 0, max))`` as the generated decimal code computes it, or None if it raises."""
    try:
        with decimal.localcontext(rt.CTX):
            v = value if value > rt.ZERO else rt.ZERO
            if mx is not None and v > mx:
                v = mx
            return v.quantize(quantum, mode)
    except ArithmeticError:
        return None


def emit_points(g: _Gen, c: n.Criterion, e: n.Expr, ind: int, scope: _Scope, p: str) -> None:
    """Statements setting ``p`` to the criterion's points for the value of ``e``."""
    m = g.m
    plan = g.plan
    mx = c.max.value if c.max is not None else None
    folded = _constant(e)
    if folded is not None:
        pts = points_of(folded, mx, plan.quantum, plan.mode)
        if pts is not None:
            g.emit(ind, f"{p} = {m.const(pts)}")
            return
    if isinstance(e, n.IfExpr):
        cond = g.expr(e.cond, ind, scope)
        g.emit(ind, f"if {cond}:")
        emit_points(g, c, e.then, ind + 1, scope, p)
        g.emit(ind, "else:")
        emit_points(g, c, e.otherwise, ind + 1, scope, p)
        return
    if isinstance(e, n.Table):
        g.table(e, ind, scope, None, lambda value, depth: emit_points(g, c, value, depth, scope, p))
        return
    got = int_expr(g, e, ind, scope)
    if got is not None and _emit_int_points(g, got, mx, ind, p):
        return
    # The generic decimal steps.
    raw = g.temp("_raw")
    g.emit(ind, f"{raw} = {g.expr(e, ind, scope)}")
    g.emit(ind, f"{p} = {raw} if {raw} > _ZERO else _ZERO")
    if mx is not None:
        g.emit(ind, f"if {p} > {m.const(mx)}:")
        g.emit(ind + 1, f"{p} = {m.const(mx)}")
    g.emit(ind, f"{p} = {p}.quantize(_Q, _MODE)")


def _emit_int_points(g: _Gen, got: IntCode, mx: Decimal | None, ind: int, p: str) -> bool:
    m = g.m
    plan = g.plan
    src, lo, hi = got
    at_max = None
    if mx is not None:
        at_max = points_of(mx, mx, plan.quantum, plan.mode)
        if at_max is None:
            return False  # the maximum itself cannot be rounded: the decimal code reports it
    raw = g.temp("_raw")
    g.emit(ind, f"{raw} = {src}")
    if lo < 0:
        g.emit(ind, f"if {raw} < 0:")
        g.emit(ind + 1, f"{raw} = 0")
        lo, hi = 0, max(hi, 0)
    table = rt.points_table(plan.places, plan.mode)
    body = ind
    if mx is not None and hi > mx:
        # The clamp to the maximum gives the maximum's own points (computed now).
        whole_max = whole(mx)
        g.emit(ind, f"if {raw} > {m.const(whole_max if whole_max is not None else mx)}:")
        g.emit(ind + 1, f"{p} = {m.const(at_max)}")
        g.emit(ind, "else:")
        body = ind + 1
        hi = int(mx.to_integral_value(decimal.ROUND_FLOOR))
    if table is not None and 0 <= lo and hi < len(table):
        g.emit(body, f"{p} = _PTS[{raw}]")
    else:
        g.emit(body, f"{p} = _D({raw}).quantize(_Q, _MODE)")
    return True
