"""Tests for dsl.intpath: whole-number code and criterion points give exactly the decimal results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dsl import intpath
from dsl.api import CompiledRuleset, compile_ruleset
from dsl.errors import EvaluationError, InputError, RulesetError
from dsl.parser import parse_expr

# Inputs: unconstrained (up to the validator's 10**24), non-negative, a bounded range, negative.
INPUTS = {"a": "int", "b": "int >= 0", "c": "int in -5..30", "d": "int <= -1"}
LIMIT = 10**24

# Literals around the places where exactness could break: 28 digits, decimals, zero, negatives.
LITERALS = (
    "0",
    "1",
    "2",
    "3",
    "7",
    "1000",
    "1.5",
    "2.0",
    "0.75",
    "10%",
    "999999999999",
    "1000000000000",
    "10000000000000000000000000",
)


def _int_values() -> st.SearchStrategy[int]:
    near = st.sampled_from([0, 1, -1, LIMIT, -LIMIT, LIMIT - 1, 10**23, 10**12, -(10**12), 3, 1023, 1024])
    return st.one_of(st.integers(-40, 40), st.integers(-LIMIT, LIMIT), near)


@st.composite
def _expr(draw: st.DrawFn, depth: int) -> str:
    leaf = st.one_of(st.sampled_from(LITERALS), st.sampled_from(sorted(INPUTS)), st.just("count(items)"))
    if depth <= 0:
        return draw(leaf)
    sub = _expr(depth - 1)
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return draw(leaf)
    if kind <= 3:
        op = draw(st.sampled_from(["+", "-", "*", "*", "/"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if kind == 4:
        return f"-({draw(sub)})"
    if kind == 5:
        fn = draw(st.sampled_from(["min", "max"]))
        return f"{fn}({draw(sub)}, {draw(sub)})"
    if kind == 6:
        fn = draw(st.sampled_from(["abs", "floor", "ceil"]))
        return f"{fn}({draw(sub)})"
    if kind == 7:
        return f"clamp({draw(sub)}, {draw(sub)}, {draw(sub)})"
    cmp = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    return f"(if {draw(sub)} {cmp} {draw(sub)} then {draw(sub)} else {draw(sub)})"


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    lines = [
        'ruleset ip version "1" {',
        f"  rounding {draw(st.sampled_from(['2 half_up', '0 down', '3 half_even']))}",
    ]
    lines += [f"  input {name}: {decl}" for name, decl in INPUTS.items()]
    lines.append("  input items: list of { k: int }")
    lines.append(f"  let l = {draw(_expr(2))}")
    lines.append('  group g "G" max 1000000000000000000000000000 {')
    for i in range(draw(st.integers(1, 4))):
        mx = draw(st.sampled_from(["", " max 10", " max 7.5", " max 1000", " max 100000000000000000000000"]))
        body = draw(_expr(3))
        if draw(st.booleans()):
            body = f"table {draw(_expr(1))} {{ when >= 15 then {body} when >= 1 then {draw(_expr(2))} else 2.5 }}"
        lines.append(f'    criterion k{i} "K{i}"{mx} = {body}')
    lines.append("  }")
    lines.append(f'  bonus "B" max 5 {{ criterion extra "E" = {draw(_expr(2))} }}')
    cmp = draw(st.sampled_from(["<", ">=", "=="]))
    lines.append("  classify {")
    lines.append(f'    level hi "H" when {draw(_expr(2))} {cmp} {draw(_expr(2))}')
    lines.append('    level lo "L" otherwise')
    lines.append("  }")
    lines.append(f'  title t "T" {{ require {draw(_expr(2))} > {draw(_expr(1))} "r" }}')
    lines.append("}")
    inputs: dict[str, Any] = {
        "a": draw(_int_values()),
        "b": draw(st.one_of(st.integers(0, 50), st.sampled_from([0, LIMIT, 10**20]))),
        "c": draw(st.integers(-5, 30)),
        "d": draw(st.one_of(st.integers(-50, -1), st.just(-LIMIT))),
        "items": [{"k": 1}] * draw(st.integers(0, 3)),
    }
    return "\n".join(lines) + "\n", inputs


def _exact(value: Any) -> Any:
    """A value with its decimal representation (exponent, sign of zero), not just its number."""
    if isinstance(value, Decimal):
        return ("D", str(value))
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def _outcome(rs: CompiledRuleset, inputs: dict[str, Any], **kw: Any) -> Any:
    try:
        r = rs.score(inputs, **kw)
    except EvaluationError as exc:
        return ("error", exc.message, exc.where, exc.span)
    except InputError as exc:
        return ("input", [(v.field, v.message) for v in exc.violations])
    titles = {k: t.status for k, t in r.titles.items()}
    return (
        "ok",
        _exact(r.score),
        r.level,
        _exact(r.criteria),
        _exact(r.groups),
        _exact(r.bonus),
        titles,
        _exact(r.values),
    )


def _compile(text: str) -> CompiledRuleset:
    try:
        return compile_ruleset(text, "ip.rules")
    except RulesetError as exc:
        # Literal arithmetic the checker evaluates (`0 / 0`) is rightly refused: not a case here.
        assume(not all("division by zero" in d.message for d in exc.diagnostics if d.is_error))
        raise


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_case())
def test_fast_path_matches_interpreter_exactly(case: tuple[str, dict[str, Any]]) -> None:
    """Scoring raw ints (fused int path) equals the interpreter, decimal representation included."""
    text, inputs = case
    rs = _compile(text)
    expected = _outcome(rs, inputs, reference=True)
    assert expected == _outcome(rs, inputs), text
    assert expected == _outcome(rs, dict(inputs), explain=False), text


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_case())
def test_prevalidated_path_matches_interpreter_exactly(case: tuple[str, dict[str, Any]]) -> None:
    """Scoring validated inputs (points pushed into branches, folded constants) equals the interpreter."""
    text, inputs = case
    rs = _compile(text)
    try:
        validated = rs.validate(inputs)
    except InputError:
        return
    expected = _outcome(rs, validated, validated=True, reference=True)
    assert expected == _outcome(rs, validated, validated=True), text


def _fast_source(rs: CompiledRuleset) -> str:
    return rs.evaluator._sections["_unit_raw"][1]


BASE = """ruleset s version "1" {
  rounding 2 half_up
  input n: int >= 0
  input m: int in 0..n
  input z: int
  group g "G" max 100 {
    criterion lin "lin" max 10 = 3 * n
    criterion cap "cap" max 10 = min(m, 4) * 2
    criterion neg "neg" max 10 = 6 - 2 * z
    criterion ratio "ratio" max 10 = m / n * 10
    criterion step "step" max 10 = if n >= 5 then 10 else 10 / 4
    criterion half "half" max 7.5 = 2 * n
  }
}
"""


def test_int_criterion_uses_python_ints_and_the_points_table() -> None:
    """`3 * n` runs on the submitted int and takes its points from the table; no decimal clamp at 0."""
    src = _fast_source(_compile(BASE))
    assert "(_k" in src and "* i_n)" in src
    assert "_PTS[" in src
    lin = src[src.index("* i_n)") :].split("\n")[:6]
    assert not any("< 0" in line for line in lin)


def test_possibly_negative_int_criterion_clamps_at_zero() -> None:
    """`6 - 2 * z` can go negative: the int code clamps it at 0 and matches the interpreter."""
    rs = _compile(BASE)
    for z in (-(10**24), -3, 0, 3, 4, 10**24):
        for n in (0, 1, 7):
            inputs = {"n": n, "m": 0, "z": z}
            assert _outcome(rs, inputs, reference=True) == _outcome(rs, inputs)


def test_constant_branches_are_points_computed_at_compile_time() -> None:
    """`if n >= 5 then 10 else 10 / 4` becomes two ready point constants (10.00 and 2.50)."""
    rs = _compile(BASE)
    assert Decimal("2.50") == rs.score({"n": 4, "m": 0, "z": 0}).criteria["step"]
    assert "10 / 4" not in _fast_source(rs)
    assert str(rs.score({"n": 4, "m": 0, "z": 0}).criteria["step"]) == "2.50"


def test_fractional_max_clamps_to_its_own_points() -> None:
    """A whole-number value above `max 7.5` gets 7.50 points, below it the value with two places."""
    rs = _compile(BASE)
    assert "7.50" == str(rs.score({"n": 4, "m": 0, "z": 0}).criteria["half"])
    assert "6.00" == str(rs.score({"n": 3, "m": 0, "z": 0}).criteria["half"])


def test_division_by_zero_still_names_the_criterion() -> None:
    """`m / n` with n = 0 is an EvaluationError naming the criterion, as before."""
    rs = _compile(BASE)
    with pytest.raises(EvaluationError) as info:
        rs.score({"n": 0, "m": 0, "z": 0})
    assert "criterion 'ratio'" == info.value.where
    assert "division by zero" == info.value.message


def test_ints_above_the_input_limit_are_refused_on_every_path() -> None:
    """An int beyond 10**24 is an InputError, from the fast path and the general validator alike."""
    rs = _compile(BASE)
    for big in (10**24 + 1, -(10**25)):
        with pytest.raises(InputError):
            rs.score({"n": 1, "m": 0, "z": big})
        with pytest.raises(InputError):
            rs.validate({"n": 1, "m": 0, "z": big})
    assert Decimal(10**24) == rs.validate({"n": 1, "m": 0, "z": 10**24})["z"]


def test_products_that_could_outgrow_28_digits_round_like_decimals() -> None:
    """`z * z * 7 + 1` with z = 10**14 rounds to 28 digits (so it is not above `z * z * 7`), as decimals do."""
    text = BASE.replace(
        'criterion lin "lin" max 10 = 3 * n',
        'criterion lin "lin" max 10 = if z * z * 7 + 1 > z * z * 7 then 1 else 5',
    )
    rs = _compile(text)
    inputs = {"n": 1, "m": 0, "z": 10**14}
    assert "5.00" == str(rs.score(inputs).criteria["lin"])
    assert _outcome(rs, inputs, reference=True) == _outcome(rs, inputs)
    assert "1.00" == str(rs.score({"n": 1, "m": 0, "z": 10**6}).criteria["lin"])


def test_input_ranges_follow_constraints() -> None:
    """Static ranges: literal bounds, bounds naming other int inputs, the 10**24 default."""
    rs = _compile(BASE)
    ranges = intpath.input_ranges(rs.plan)
    assert (0, LIMIT) == ranges["n"]
    assert (0, LIMIT) == ranges["m"]
    assert (-LIMIT, LIMIT) == ranges["z"]


def test_whole_literal_means_exponent_zero() -> None:
    """`2` is a whole literal; `2.0` and `10%` are decimals (their representation differs)."""
    assert 2 == intpath.whole(Decimal("2"))
    assert intpath.whole(Decimal("2.0")) is None
    assert intpath.whole(Decimal("0.10")) is None


def test_constant_value_folds_literal_arithmetic() -> None:
    """Literal arithmetic folds in the ruleset context; a division by zero is left to run time."""
    assert Decimal("7.50") == intpath.constant_value(parse_expr("10 * 0.75"))
    assert intpath.constant_value(parse_expr("1 / 0")) is None


def test_count_let_keeps_its_int_for_int_code() -> None:
    """`let k = count(items)` feeds `6 - 3 * k` as an int; values and points equal the interpreter's."""
    text = """ruleset c version "1" {
  rounding 2 half_up
  input items: list of { f: int }
  let k = count(items)
  let big = count(items where f > 1)
  group g "G" max 10 {
    criterion clean "C" max 6 = 6 - 3 * k
    criterion some "S" max 4 = if big > 0 then 4 else 1
  }
}
"""
    rs = _compile(text)
    assert "i_k = " in _fast_source(rs)
    for n_items in range(4):
        inputs = {"items": [{"f": i} for i in range(n_items)]}
        assert _outcome(rs, inputs, reference=True) == _outcome(rs, inputs)
    assert "3.00" == str(rs.score({"items": [{"f": 0}]}).criteria["clean"])
