"""Hypothesis strategies: well-typed random rulesets (as text) with matching submissions.

A generated ruleset exercises what the evaluators must agree on: int and
decimal inputs with constraints, an enum, a bool, a list of records, lets
referring to earlier lets, criteria with and without max in groups, bonus and
penalty, tables over numbers and enums, ``if``, ``and``/``or``/``not``,
builtins, list aggregates, divisions (which may divide by zero: both
evaluators must then fail alike), classification with ``unless`` and titles
whose requirements use earlier titles and ``rank``.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

ENUM = ("alpha", "beta", "gamma")
KINDS = ("red", "blue")
NUM_INPUTS = ("n0", "n1", "n2", "d0")
ROUNDINGS = ("2 half_up", "2 half_even", "1 down", "0 half_up", "3 half_even")


class _Ctx:
    """Names an expression may use at its position in the ruleset."""

    def __init__(self, lets: list[str], points: list[str]) -> None:
        self.lets = lets
        self.points = points


def _number_literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=0, max_value=40).map(str),
        st.decimals(min_value=0, max_value=20, places=2, allow_nan=False, allow_infinity=False).map(
            lambda d: format(d, "f")
        ),
        st.integers(min_value=0, max_value=150).map(lambda p: f"{p}%"),
    )


def num_expr(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    """A numeric expression text."""
    return _num_expr(tuple(ctx.lets), tuple(ctx.points), depth)


def bool_expr(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    """A boolean expression text."""
    return _bool_expr(tuple(ctx.lets), tuple(ctx.points), depth)


# Strategies are built once per (names, depth): building them is what makes generation slow.
@functools.cache
def _num_expr(lets: tuple[str, ...], points: tuple[str, ...], depth: int) -> st.SearchStrategy[str]:
    ctx = _Ctx(list(lets), list(points))
    names = list(NUM_INPUTS) + ctx.lets + ctx.points + ["count(items)"]
    leaf = st.one_of(_number_literal(), st.sampled_from(names))
    if depth <= 0:
        return leaf
    sub = num_expr(ctx, depth - 1)
    cond = bool_expr(ctx, depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        # Divisors are names or non-zero numbers: the checker rejects a constant zero divisor,
        # while inputs of 0 still make both evaluators divide by zero at run time.
        st.tuples(sub, st.one_of(st.sampled_from(names), st.integers(1, 9).map(str))).map(
            lambda t: f"({t[0]} / {t[1]})"
        ),
        st.tuples(cond, sub, sub).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
        st.tuples(sub, sub).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"max({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(sub, st.integers(0, 3)).map(lambda t: f"round({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["floor", "ceil", "abs"]), sub).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, _number_literal(), sub, _number_literal(), sub, sub).map(
            lambda t: f"(table {t[0]} {{ when >= {t[1]} then {t[2]} when < {t[3]} then {t[4]} else {t[5]} }})"
        ),
        st.tuples(sub, sub, sub).map(
            lambda t: (
                f"(table e {{ when alpha then {t[0]} when in [beta] then {t[1]} when gamma then {t[2]} }})"
            )
        ),
        st.sampled_from(KINDS).map(lambda k: f"count(items where kind == {k})"),
        st.tuples(st.sampled_from(KINDS), st.integers(0, 5)).map(
            lambda t: f"sum(items of n * 2 where kind != {t[0]} and n >= {t[1]})"
        ),
    )


@functools.cache
def _bool_expr(lets: tuple[str, ...], points: tuple[str, ...], depth: int) -> st.SearchStrategy[str]:
    ctx = _Ctx(list(lets), list(points))
    sub_num = num_expr(ctx, max(depth - 1, 0))
    leaf = st.one_of(
        st.sampled_from(["flag", "true", "false", "e == beta", "e != alpha", "e in [alpha, gamma]"]),
        st.tuples(sub_num, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), sub_num).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.sampled_from(KINDS).map(lambda k: f"any(items where kind == {k})"),
        st.integers(0, 6).map(lambda v: f"all(items where n > {v})"),
    )
    if depth <= 0:
        return leaf
    sub = bool_expr(ctx, depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"(not {s})"),
    )


@st.composite
def rulesets(draw: st.DrawFn, max_depth: int = 2, bloc: bool = False) -> tuple[str, dict[str, Any]]:
    """A ruleset's text and a valid submission for it (``bloc``: it also uses bloc aggregates)."""
    lines = [
        'ruleset gen version "1" {',
        f"  rounding {draw(st.sampled_from(ROUNDINGS))}",
        "  input n0: int in 0..100",
        "  input n1: int >= 0",
        "  input n2: int in 0..n1",
        "  input d0: decimal",
        "  input flag: bool",
        "  input e: enum(alpha, beta, gamma)",
        "  input items: list of { kind: enum(red, blue), n: int }",
    ]
    lets: list[str] = []
    for i in range(draw(st.integers(0, 3))):
        expr = draw(num_expr(_Ctx(list(lets), []), draw(st.integers(0, max_depth))))
        lines.append(f"  let l{i} = {expr}")
        lets.append(f"l{i}")
    points: list[str] = []
    ci = 0
    for gi in range(draw(st.integers(1, 3))):
        crits = []
        for _ in range(draw(st.integers(1, 3))):
            expr = draw(num_expr(_Ctx(lets, []), draw(st.integers(0, max_depth))))
            mx = draw(st.one_of(st.none(), st.integers(1, 30)))
            crits.append(f'criterion c{ci} "C{ci}"' + (f" max {mx}" if mx is not None else "") + f" = {expr}")
            points.append(f"c{ci}")
            ci += 1
        lines.append(f'  group g{gi} "G{gi}" max {draw(st.integers(5, 60))} {{ {"  ".join(crits)} }}')
    if bloc:
        term = draw(st.sampled_from(["n0", "n1 + 1", "d0", *lets]))
        agg = draw(
            st.sampled_from(
                [
                    f"bloc_max({term})",
                    f"bloc_min({term})",
                    f"bloc_sum({term})",
                    f"bloc_avg({term})",
                    "bloc_count(flag)",
                    "bloc_count(n0 > 50 and e == beta)",
                ]
            )
        )
        expr = draw(num_expr(_Ctx(lets, []), 1))
        lines.append(f'  group gb "GB" max 100 {{ criterion cb "CB" = ({expr}) + {agg} }}')
    if draw(st.booleans()):
        expr = draw(num_expr(_Ctx(lets, []), 1))
        lines.append(f'  bonus "B" max {draw(st.integers(1, 10))} {{ criterion b0 "b0" = {expr} }}')
    if draw(st.booleans()):
        expr = draw(num_expr(_Ctx(lets, []), 1))
        mx = draw(st.one_of(st.none(), st.integers(1, 10)))
        lines.append(
            '  penalty "P"' + (f" max {mx}" if mx is not None else "") + f' {{ criterion p0 "p0" = {expr} }}'
        )
    if draw(st.booleans()):
        expr = draw(num_expr(_Ctx(lets, points), 1))
        lines.append(f"  score = {expr}")
    unless = draw(bool_expr(_Ctx(lets, points), 1))
    lines.append("  classify {")
    lines.append(f'    level top "T" when score >= {draw(st.integers(0, 80))} unless {unless}')
    lines.append(f'    level mid "M" when {draw(bool_expr(_Ctx(lets, points), 1))}')
    lines.append('    level low "L" otherwise')
    lines.append("  }")
    titles: list[str] = []
    for ti in range(draw(st.integers(0, 3))):
        reqs = [f"require {draw(bool_expr(_Ctx(lets, points), 1))}"]
        if titles and draw(st.booleans()):
            reqs.append(f"require {'not ' if draw(st.booleans()) else ''}{draw(st.sampled_from(titles))}")
        if draw(st.booleans()):
            reqs.append("require rank <= 2")
        if draw(st.booleans()):
            reqs.append("require level in [top, mid]")
        if bloc and draw(st.booleans()):
            reqs.append("require d0 >= bloc_avg(d0)")
        lines.append(f'  title t{ti} "T{ti}" {{ {"  ".join(reqs)} }}')
        titles.append(f"t{ti}")
    lines.append("}")
    return "\n".join(lines) + "\n", draw(submissions())


#: Names a ruleset may legally use that would be dangerous or clash if pasted into Python.
HOSTILE = {
    "n0": ("__import__", "điểm_số", "self"),
    "n1": ("os", "u0", "_x"),
    "d0": ("exec", "hệ_số", "__class__"),
    "flag": ("None_", "đạt", "sys"),
}


@st.composite
def renamed(draw: st.DrawFn, case: st.SearchStrategy[tuple[str, Any]]) -> tuple[str, Any]:
    """``case`` with some inputs renamed to hostile or Vietnamese names (text and submissions)."""
    text, subs = draw(case)
    for old, choices in HOSTILE.items():
        if draw(st.booleans()):
            new = draw(st.sampled_from(choices))
            text = re.sub(rf"\b{old}\b", new, text)
            if isinstance(subs, list):
                subs = [{(new if k == old else k): v for k, v in sub.items()} for sub in subs]
            else:
                subs = {(new if k == old else k): v for k, v in subs.items()}
    return text, subs


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid submission for any ruleset `rulesets` generates."""
    n1 = draw(st.integers(0, 50))
    return {
        "n0": draw(st.integers(0, 100)),
        "n1": n1,
        "n2": draw(st.integers(0, n1)),
        "d0": str(
            draw(st.decimals(min_value=-50, max_value=50, places=3, allow_nan=False, allow_infinity=False))
        ),
        "flag": draw(st.booleans()),
        "e": draw(st.sampled_from(ENUM)),
        "items": draw(
            st.lists(
                st.fixed_dictionaries({"kind": st.sampled_from(KINDS), "n": st.integers(0, 9)}), max_size=4
            )
        ),
    }


@st.composite
def blocs(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """A ruleset using bloc aggregates and the submissions of a bloc of 1 to 4 units."""
    text, first = draw(rulesets(max_depth=1, bloc=True))
    return text, [first, *draw(st.lists(submissions(), min_size=0, max_size=3))]


def as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)
