"""The expression depth limit: every stage works at the limit, one more level is a positioned error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dsl.api import compile_ruleset
from dsl.checker import check_source
from dsl.diff import structural_diff
from dsl.errors import RulesetError
from dsl.format import format_text
from dsl.identity import canonical_text
from dsl.parser import MAX_EXPRESSION_DEPTH, expression_depths, parse, parse_expr


def _chain(depth: int) -> str:
    return " + ".join(["a"] * depth)


def _right_nested(depth: int) -> str:
    return "a + (" * (depth - 2) + "a + a" + ")" * (depth - 2)


def _negations(depth: int) -> str:
    return "-" * (depth - 1) + "a"


def _nots(depth: int) -> str:
    # `if` (1) + `not`s + `a > 0` (2) + the branches' leaves inside the `if`.
    return "if " + "not " * (depth - 3) + "a > 0 then 1 else 0"


def _ifs(depth: int) -> str:
    # Each `if … then X else 0` adds one level; the innermost is `if a > 0 then 1 else 0` (3 levels).
    return "if a > 0 then " * (depth - 2) + "1" + " else 0" * (depth - 2)


def _else_ifs(depth: int) -> str:
    # `if a > 0 then 1 else if …`: the common "else if" ladder.
    return "if a > 0 then 1 else " * (depth - 2) + "0"


def _ands(depth: int) -> str:
    # Right-nested `and`s whose operands need statements in the compiled code (decimal arithmetic).
    return "if " + "a * 1.5 > 0 and (" * (depth - 4) + "a > 0" + ")" * (depth - 4) + " then 1 else 0"


def _calls(depth: int) -> str:
    return "min(" * (depth - 1) + "a" + ", 9)" * (depth - 1)


SHAPES: dict[str, Callable[[int], str]] = {
    "flat chain of +": _chain,
    "right-nested brackets": _right_nested,
    "negations": _negations,
    "nots": _nots,
    "nested ifs": _ifs,
    "else-if ladder": _else_ifs,
    "nested ands": _ands,
    "nested calls": _calls,
}


def _ruleset(expr: str) -> str:
    return f"""ruleset deep version "1" {{
  rounding 2 half_up
  input a: int in 0..1
  group g "G" max 100 {{
    criterion c "C" max 100 =
      {expr}
  }}
  classify {{
    level ok "OK" otherwise
  }}
}}
"""


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_is_measured_as_intended(shape: str) -> None:
    """Each generated shape has exactly the depth asked for, so the tests below test the limit."""
    expr = parse_expr(SHAPES[shape](MAX_EXPRESSION_DEPTH - 2))
    assert [MAX_EXPRESSION_DEPTH - 2] == [depth for _, depth in expression_depths(expr)]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_stage_works_at_the_limit(shape: str) -> None:
    """At exactly the limit: check, compile, score (compiled and reference), format, identity and diff."""
    text = _ruleset(SHAPES[shape](MAX_EXPRESSION_DEPTH))
    checked = check_source(text, "deep.rules")
    assert [] == [d.message for d in checked.diagnostics if d.is_error]
    compiled = compile_ruleset(text, "deep.rules")
    for a in (0, 1):
        fast = compiled.score({"a": a}, explain=True)
        reference = compiled.score({"a": a}, explain=True, reference=True)
        assert fast.to_json(explain=True) == reference.to_json(explain=True)
    formatted = format_text(text, "deep.rules")
    assert formatted == format_text(formatted, "deep.rules")
    ruleset = parse(text, "deep.rules").ruleset
    assert ruleset is not None
    assert canonical_text(ruleset)
    assert structural_diff(ruleset, ruleset).empty


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_level_more_is_an_error_at_the_expression(shape: str) -> None:
    """One level past the limit is a syntax-stage error at the expression's line and column, with a hint."""
    text = _ruleset(SHAPES[shape](MAX_EXPRESSION_DEPTH + 2))
    with pytest.raises(RulesetError) as caught:
        parse(text, "deep.rules")
    (diag,) = caught.value.diagnostics
    assert (6, 7) == (diag.span.line, diag.span.column)
    assert f"nests {MAX_EXPRESSION_DEPTH + 2} levels deep, more than the {MAX_EXPRESSION_DEPTH} allowed" in (
        diag.message
    )
    assert diag.hint is not None and "let" in diag.hint


def test_thousands_of_levels_are_read_and_reported_not_a_crash() -> None:
    """Even 5,000 levels (far past Python's stack) give the positioned error, never RecursionError."""
    for shape in (_chain, _negations, _calls):
        with pytest.raises(RulesetError, match="nests 5000 levels deep"):
            parse(_ruleset(shape(5000)), "deep.rules")


def test_every_too_deep_expression_is_reported() -> None:
    """Two deep expressions in one file give two diagnostics, in source order."""
    deep = _chain(MAX_EXPRESSION_DEPTH + 1)
    text = _ruleset(deep).replace("  classify {", f"  let x = {deep}\n  let y = {deep}\n  classify {{")
    with pytest.raises(RulesetError) as caught:
        parse(text, "deep.rules")
    assert [6, 8, 9] == [d.span.line for d in caught.value.diagnostics]
