"""dsl.lint: monotonicity warnings for inputs marked `more is better` / `less is better`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.api import compile_ruleset
from dsl.lint import DOWN, FLAT, MIXED, UP, directions, lint
from dsl.parser import parse

ROOT = Path(__file__).resolve().parents[2]
KHOI3 = (ROOT / "rulesets" / "khoi3" / "2023.1.rules").read_text(encoding="utf-8")


def _mark(text: str, decl: str, better: str) -> str:
    assert decl in text
    return text.replace(decl, f"{decl} {better} is better", 1)


def test_syntax_is_parsed_and_optional() -> None:
    """`more is better` / `less is better` land in Input.better; without them it is None."""
    rs = parse(
        'ruleset r version "1" { input a: int >= 0 more is better "A"  input b: int less is better  input c: int }',
        "r",
    ).ruleset
    assert rs is not None
    assert [("a", "more", "A"), ("b", "less", None), ("c", None, None)] == [
        (i.name, i.better, i.label) for i in rs.inputs
    ]


def test_bundled_ruleset_directions() -> None:
    """The khoi3 criteria move the expected way: targets up with targets_met (through its table), reporting down with late reports."""
    rs = compile_ruleset(KHOI3, "k.rules")
    assert {"targets": UP} == {k: v for k, v in directions(rs.checked, "targets_met").items() if v != FLAT}
    assert {"reporting": DOWN} == {
        k: v for k, v in directions(rs.checked, "reports_late").items() if v != FLAT
    }
    assert {"plan": DOWN} == {k: v for k, v in directions(rs.checked, "plan_issued_on").items() if v != FLAT}
    assert {"training": DOWN} == {k: v for k, v in directions(rs.checked, "members").items() if v != FLAT}


def test_correct_marks_are_quiet() -> None:
    """Marking inputs the way the ruleset already scores them gives no warning."""
    text = _mark(KHOI3, "input targets_met: int in 0..targets_assigned", "more")
    text = _mark(text, "input reports_late: int in 0..reports_due", "less")
    text = _mark(text, "input advanced_members: int in 0..members", "more")
    text = _mark(text, "input asset_violations: int >= 0 default 0", "less")
    assert [] == lint(compile_ruleset(text, "k.rules").checked)


def test_wrong_direction_warns_at_the_criterion() -> None:
    """A late-reports input marked `more is better` is contradicted by `3 - 0.5 * reports_late`."""
    text = _mark(KHOI3, "input reports_late: int in 0..reports_due", "more")
    (warning,) = lint(compile_ruleset(text, "k.rules").checked)
    assert "monotonicity" == warning.code
    assert 44 == warning.span.line
    assert "criterion 'reporting' loses points as `reports_late` increases" in warning.message


def test_reverse_direction_and_requirements() -> None:
    """`less is better` on advanced members contradicts the 50%/70% requirements, each warned where written."""
    text = _mark(KHOI3, "input advanced_members: int in 0..members", "less")
    warnings = lint(compile_ruleset(text, "k.rules").checked)
    assert [97, 105] == [w.span.line for w in warnings]
    assert all("gets harder to meet as `advanced_members` decreases" in w.message for w in warnings)


TABLE = """ruleset t version "1" {{
  input rate: decimal in 0..1 more is better
  group g "G" max 10 {{
    criterion c "C" max 10 = table rate {{ when >= 90% then {top}  when >= 50% then 5  else 10 * rate / 2 }}
  }}
}}
"""


@pytest.mark.parametrize(("top", "warned"), [("10", False), ("4", True)])
def test_tables_step_one_way_or_warn(top: str, warned: bool) -> None:
    """A threshold table whose rows step up is quiet; a top row worth less than the next one warns."""
    rs = compile_ruleset(TABLE.format(top=top), "t.rules")
    assert warned == bool(lint(rs.checked))


def test_unknown_directions_are_never_warned() -> None:
    """A product of two moving quantities has no certain direction: no warning."""
    text = """ruleset u version "1" {
  input x: int >= 0 more is better
  group g "G" max 10 { criterion c "C" max 10 = 10 - x * x }
}
"""
    assert [] == lint(compile_ruleset(text, "u.rules").checked)


def test_direction_on_a_bool_is_pointless() -> None:
    """`less is better` on a bool input is a warning of its own."""
    text = 'ruleset b version "1" { input v: bool less is better  group g "G" max 1 { criterion c "C" max 1 = if v then 0 else 1 } }'
    (warning,) = lint(compile_ruleset(text, "b.rules").checked)
    assert "only number and date inputs have a direction" in warning.message


def test_structural_diff_reports_a_new_direction() -> None:
    """Adding `more is better` to an input shows as a changed input in the version diff."""
    from dsl.diff import structural_diff

    old = parse('ruleset r version "1" { input x: int >= 0 "X" }', "a").ruleset
    new = parse('ruleset r version "2" { input x: int >= 0 more is better "X" }', "b").ruleset
    assert old is not None and new is not None
    (change,) = structural_diff(old, new).changes
    assert ("input", "x", "changed") == (change.kind, change.name, change.status)
    assert [("better", None, "more is better")] == [(f.field, f.old, f.new) for f in change.fields]


def _exprs() -> st.SearchStrategy[str]:
    consts = st.integers(min_value=-20, max_value=20).map(lambda v: f"({v})")
    positive = st.integers(min_value=1, max_value=9).map(str)
    leaves = st.one_of(st.just("x"), consts)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]} + {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]} - {p[1]})"),
            st.tuples(consts, inner).map(lambda p: f"({p[0]} * {p[1]})"),
            st.tuples(inner, positive).map(lambda p: f"({p[0]} / {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"min({p[0]}, {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"max({p[0]}, {p[1]})"),
            st.tuples(inner, consts, consts).map(lambda p: f"clamp({p[0]}, {p[1]}, {p[2]})"),
            st.tuples(st.integers(0, 50), consts, consts).map(
                lambda p: f"(if x >= {p[0]} then {p[1]} else {p[2]})"
            ),
            st.tuples(st.integers(26, 50), st.integers(0, 25), consts, consts, inner).map(
                lambda p: f"table x {{ when >= {p[0]} then {p[2]}  when >= {p[1]} then {p[3]}  else {p[4]} }}"
            ),
        )

    return st.recursive(leaves, extend, max_leaves=6)


@settings(max_examples=60)
@given(_exprs())
def test_directions_are_sound(expr: str) -> None:
    """Whenever the lint is sure of a direction, the points really move that way for every x in 0..50 (tables too)."""
    text = f'ruleset m version "1" {{ input x: int in 0..50  group g "G" max 10000 {{ criterion c "C" max 10000 = {expr} }} }}'
    rs = compile_ruleset(text, "m.rules")
    d = directions(rs.checked, "x")["c"]
    if d is None or d == MIXED:
        return
    points = [rs.score({"x": x}).criteria["c"] for x in range(51)]
    steps = {(b > a) - (b < a) for a, b in itertools.pairwise(points)}
    assert steps <= {FLAT, d}, (expr, d, points)
