"""Tests for dsl.compiler: generated code is safe, readable, mapped back to the ruleset, and exact."""

from __future__ import annotations

import linecache
import sys
from decimal import Decimal
from typing import Any

import pytest

from dsl.api import CompiledRuleset, compile_ruleset
from dsl.errors import EvaluationError
from dsl.parser import MAX_EXPRESSION_DEPTH

HOSTILE = (
    r"""
ruleset hostile version "1\"\n{}" {
  description "\"\"\" """
    + "'''"
    + r""" {x} \\ \n end"
  input __import__: int
  input os: int
  input _x: decimal
  input self: int
  input điểm_thưởng: int
  input kind: text
  let __class__ = __import__ + os
  let quoted = if kind == "\"\"\"{}\\\n'" then 1 else 0
  group sys "\"); import os; os.system('x') #" max 100 {
    criterion eval "{__import__('os')}" = __class__ + _x + self + điểm_thưởng + quoted
    criterion exec "x" = if kind == "boom" then os / (self - self) else 0
  }
}
"""
)

HOSTILE_INPUTS: dict[str, Any] = {
    "__import__": 1,
    "os": 2,
    "_x": "0.5",
    "self": 3,
    "điểm_thưởng": 4,
    "kind": '"""{}\\\n\'',
}


def small(body: str, rounding: str = "") -> CompiledRuleset:
    text = f'ruleset t version "1" {{\n  {rounding}\n{body}\n}}\n'
    return compile_ruleset(text, "t.rules")


def test_hostile_names_and_strings_are_data() -> None:
    """Names like __import__/os/self and strings full of quotes evaluate as plain data."""
    rs = compile_ruleset(HOSTILE, "h.rules")
    result = rs.score(HOSTILE_INPUTS)
    # __class__ = 1 + 2; eval = 3 + 0.5 + 3 + 4 + 1 (the quoted text matched)
    assert Decimal("11.50") == result.criteria["eval"]
    assert Decimal("11.50") == result.score
    assert Decimal(3) == result.values["__class__"]


def test_generated_code_contains_no_ruleset_text() -> None:
    """Labels, descriptions and string literals never appear in the generated source."""
    rs = compile_ruleset(HOSTILE, "h.rules")
    code = rs.evaluator.code
    for fragment in ("import os", "os.system", "{__import__('os')}", '"""', "end"):
        assert fragment not in code
    assert "__builtins__" not in code


def test_namespace_has_no_builtins() -> None:
    """The generated module runs with an empty __builtins__: no open, no __import__."""
    rs = small('  input a: int\n  group g "G" max 10 { criterion c "C" = a }')
    globals_ = rs.evaluator.unit.__globals__
    assert {} == globals_["__builtins__"]
    assert "open" not in globals_ and "__import__" not in globals_


def test_compiling_mutates_no_module_globals() -> None:
    """Two compiled rulesets have separate namespaces; our modules gain no attributes."""
    import dsl.compiler as compiler_module

    before = set(vars(compiler_module))
    a = small('  input a: int\n  group g "G" max 10 { criterion c "C" = a * 2 }')
    b = small('  input a: int\n  group g "G" max 10 { criterion c "C" = a * 3 }')
    assert before == set(vars(compiler_module))
    assert a.evaluator.unit.__globals__ is not b.evaluator.unit.__globals__
    assert Decimal("4.00") == a.score({"a": 2}).score
    assert Decimal("6.00") == b.score({"a": 2}).score


def test_source_registered_in_linecache() -> None:
    """The generated source is in linecache under `<ruleset NAME VERSION>`."""
    rs = compile_ruleset(
        'ruleset lc version "2023.1" {\n  input a: int\n  group g "G" max 10 { criterion c "C" = a }\n}\n',
        "lc.rules",
    )
    assert rs.evaluator.filename.startswith("<ruleset lc 2023.1")
    lines = linecache.getlines(rs.evaluator.filename)
    assert lines and lines[0].startswith("def _unit(")


def test_division_by_zero_names_criterion_and_line() -> None:
    """Division by zero is an EvaluationError naming the criterion and its ruleset line."""
    rs = compile_ruleset(HOSTILE, "h.rules")
    with pytest.raises(EvaluationError) as info:
        rs.score(dict(HOSTILE_INPUTS, kind="boom"), unit="u1")
    err = info.value
    assert ("division by zero", "criterion 'exec'", 14, "u1") == (
        err.message,
        err.where,
        err.span and err.span.line,
        err.unit,
    )
    assert "criterion 'exec'" in str(err) and "h.rules:14" in str(err)


def test_division_by_zero_in_a_let() -> None:
    """A let's division by zero names the let."""
    rs = small(
        '  input a: int\n  input b: int\n  let r = a / b\n  group g "G" max 10 { criterion c "C" = r }'
    )
    with pytest.raises(EvaluationError) as info:
        rs.score({"a": 1, "b": 0})
    assert ("let 'r'", 5) == (info.value.where, info.value.span and info.value.span.line)


def test_interpreter_reports_the_same_error() -> None:
    """The reference interpreter raises the same EvaluationError as the compiled code."""
    rs = small(
        '  input a: int\n  input b: int\n  let r = a / b\n  group g "G" max 10 { criterion c "C" = r }'
    )
    errors = []
    for reference in (False, True):
        with pytest.raises(EvaluationError) as info:
            rs.score({"a": 0, "b": 0}, reference=reference)
        errors.append((info.value.message, info.value.where, info.value.span))
    assert errors[0] == errors[1]


def test_exact_decimal_arithmetic() -> None:
    """55% of 100 is 55 exactly, 0.1 + 0.2 == 0.3, 2.675 rounds half-up to 2.68."""
    rs = small(
        "  input adv: int\n  input members: int\n  input x: decimal\n"
        '  group g "G" max 100 {\n'
        '    criterion a "A" = if adv >= 55% * members then 1 else 0\n'
        '    criterion b "B" = if 0.1 + 0.2 == 0.3 then 1 else 0\n'
        '    criterion c "C" = x\n  }'
    )
    result = rs.score({"adv": 55, "members": 100, "x": "2.675"})
    assert (Decimal(1), Decimal(1), Decimal("2.68")) == (
        result.criteria["a"],
        result.criteria["b"],
        result.criteria["c"],
    )


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("half_up", "2.675", "2.68"),
        ("half_even", "2.675", "2.68"),
        ("half_even", "2.665", "2.66"),
        ("down", "2.679", "2.67"),
        ("half_up", "2.665", "2.67"),
    ],
)
def test_rounding_modes(mode: str, value: str, expected: str) -> None:
    """Criterion points round by the ruleset's mode."""
    rs = small('  input x: decimal\n  group g "G" max 100 { criterion c "C" = x }', f"rounding 2 {mode}")
    assert Decimal(expected) == rs.score({"x": value}).criteria["c"]


def test_caps_bonus_penalty_and_floor() -> None:
    """Criterion max, floor 0, group cap, bonus cap and penalty cap combine as SPEC §1.5 says."""
    rs = small(
        "  input x: decimal\n"
        '  group g "G" max 10 { criterion a "A" max 8 = x  criterion b "B" max 8 = x - 20 }\n'
        '  group h "H" max 10 { criterion c "C" max 8 = x }\n'
        '  bonus "B" max 3 { criterion b1 "b1" = x }\n'
        '  penalty "P" max 4 { criterion p1 "p1" = x }'
    )
    r = rs.score({"x": 9})
    assert (Decimal(8), Decimal(0)) == (r.criteria["a"], r.criteria["b"])
    assert (Decimal(8), Decimal(8)) == (r.groups["g"], r.groups["h"])
    assert (Decimal(3), Decimal(4)) == (r.bonus, r.penalty)
    assert Decimal("15.00") == r.score


def test_score_never_below_zero() -> None:
    """The default score is max(0, Σ groups + bonus − penalty)."""
    rs = small(
        '  input x: int\n  group g "G" max 10 { criterion a "A" = x }\n  penalty "P" { criterion p "p" = 50 }'
    )
    assert Decimal("0.00") == rs.score({"x": 3}).score


def test_custom_score_expression() -> None:
    """`score = EXPR` replaces the default and is rounded."""
    rs = small('  input x: decimal\n  group g "G" max 10 { criterion a "A" = x }\n  score = g * 1.005')
    assert Decimal("10.05") == rs.score({"x": 10}).score


def test_classification_when_unless_otherwise() -> None:
    """The first level whose `when` holds and `unless` does not wins; otherwise catches the rest."""
    rs = small(
        "  input x: int\n  input bad: bool\n"
        '  group g "G" max 100 { criterion a "A" = x }\n'
        '  classify {\n    level top "T" when score >= 90 unless bad\n'
        '    level mid "M" when score >= 50\n    level low "L" otherwise\n  }'
    )
    assert "top" == rs.score({"x": 95, "bad": False}).level
    assert "mid" == rs.score({"x": 95, "bad": True}).level
    assert "low" == rs.score({"x": 10, "bad": False}).level


def test_table_rows_and_lazy_branches() -> None:
    """Only the matching table row and the taken `if` branch are evaluated."""
    rs = small(
        "  input x: int\n  input d: int\n"
        '  group g "G" max 100 {\n'
        '    criterion a "A" = table x { when >= 10 then 5  when >= 5 then 100 / d  else 1 }\n'
        '    criterion b "B" = if d == 0 then 0 else 10 / d\n  }'
    )
    assert (Decimal(5), Decimal(0)) == (
        rs.score({"x": 12, "d": 0}).criteria["a"],
        rs.score({"x": 12, "d": 0}).criteria["b"],
    )
    with pytest.raises(EvaluationError, match="division by zero"):
        rs.score({"x": 6, "d": 0})


def test_list_aggregates() -> None:
    """count/any/all/sum over a list input, with `where` and `of`."""
    rs = small(
        "  input items: list of { kind: enum(a, b), n: int }\n"
        '  group g "G" max 100 {\n'
        '    criterion c "C" = count(items) + count(items where kind == a)\n'
        '    criterion s "S" = sum(items of n where kind == b)\n'
        '    criterion y "Y" = if any(items where n > 5) then 1 else 0\n'
        '    criterion z "Z" = if all(items where n > 0) then 1 else 0\n  }'
    )
    r = rs.score({"items": [{"kind": "a", "n": 1}, {"kind": "b", "n": 7}, {"kind": "b", "n": 2}]})
    assert {"c": Decimal(4), "s": Decimal(9), "y": Decimal(1), "z": Decimal(1)} == r.criteria


def test_builtin_functions() -> None:
    """min, max, clamp, round, floor, ceil and abs."""
    rs = small(
        "  input x: decimal\n"
        '  group g "G" max 1000 {\n'
        '    criterion a "A" = min(x, 3, 4) + max(x, 1)\n'
        '    criterion b "B" = clamp(x, 0, 2) + round(x, 0) + floor(x) + ceil(x) + abs(0 - x)\n  }'
    )
    r = rs.score({"x": "2.5"})
    # a = 2.5 + 2.5; b = 2 + 3 (half_up) + 2 + 3 + 2.5
    assert (Decimal("5.00"), Decimal("12.50")) == (r.criteria["a"], r.criteria["b"])


def test_bloc_aggregates_need_a_bloc() -> None:
    """A ruleset using bloc_max cannot score a unit alone; with the bloc's values it can."""
    rs = small('  input met: int\n  group g "G" max 10 { criterion c "C" max 10 = 10 * met / bloc_max(met) }')
    assert rs.uses_bloc
    with pytest.raises(EvaluationError, match="bloc"):
        rs.score({"met": 3})
    inputs = [rs.validate({"met": m}) for m in (3, 6, 4)]
    bloc = rs.bloc_aggregates(inputs)
    assert (Decimal(6),) == bloc.values
    assert Decimal("5.00") == rs.score(inputs[0], validated=True, bloc=bloc).score
    assert Decimal("5.00") == rs.score(inputs[0], validated=True, bloc=bloc, reference=True).score


def test_bloc_avg_sum_min_count() -> None:
    """bloc_avg, bloc_sum, bloc_min and bloc_count fold over the units."""
    rs = small(
        "  input met: int\n"
        '  group g "G" max 100 { criterion c "C" = bloc_avg(met) + bloc_sum(met) + bloc_min(met) + bloc_count(met > 3) }'
    )
    inputs = [rs.validate({"met": m}) for m in (3, 6, 4)]
    bloc = rs.bloc_aggregates(inputs)
    # avg 13/3, sum 13, min 3, count 2
    assert Decimal("22.33") == rs.score(inputs[0], validated=True, bloc=bloc).score


def test_deep_expression_compiles() -> None:
    """A sum as long as the language allows does not hit Python's parser nesting limits."""
    body = " + ".join(["x"] * MAX_EXPRESSION_DEPTH)
    rs = small(f'  input x: int\n  group g "G" max 100000 {{ criterion c "C" = {body} }}')
    assert Decimal(MAX_EXPRESSION_DEPTH) == rs.score({"x": 1}).score


def test_traceback_points_at_generated_source() -> None:
    """The generated code's frames carry the linecache filename (debuggers can show it)."""
    rs = small('  input a: int\n  input b: int\n  group g "G" max 10 { criterion c "C" = a / b }')
    try:
        rs.evaluator.unit({"a": Decimal(1), "b": Decimal(0)}, None)
    except ArithmeticError:
        tb = sys.exc_info()[2]
        names = []
        while tb is not None:
            names.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        assert rs.evaluator.filename in names
    else:
        pytest.fail("expected a division error")


def test_zero_divided_by_zero_is_division_by_zero() -> None:
    """0/0 (decimal's DivisionUndefined) is reported as division by zero, by both evaluators."""
    rs = small('  input a: int\n  group g "G" max 10 { criterion c "C" = a / a }')
    for reference in (False, True):
        with pytest.raises(EvaluationError) as info:
            rs.score({"a": 0}, reference=reference)
        assert ("division by zero", "criterion 'c'") == (info.value.message, info.value.where)


def test_numbered_and_vietnamese_names_do_not_collide() -> None:
    """ASCII names shaped like the numbering of non-ASCII names stay distinct variables."""
    rs = small(
        "  input điểm: int\n  input u0: int\n  input u1: int\n  input u2: int\n"
        '  group g "G" max 1000 { criterion c "C" = điểm * 100 + u0 * 10 + u1 + u2 * 0 }'
    )
    assert Decimal(123) == rs.score({"điểm": 1, "u0": 2, "u1": 3, "u2": 4}).score
