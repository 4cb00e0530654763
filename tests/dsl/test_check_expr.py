"""dsl.check_expr: the static type of each expression form, and what is accepted where."""

from __future__ import annotations

import pytest

from dsl.checker import check_source

INPUTS = """
  input a: int >= 1
  input d: decimal >= 1
  input flag: bool
  input day: date
  input note: text
  input rating: enum(good, bad)
  input items: list of { kind: enum(x, y), points: decimal }
"""


def type_of(expr: str) -> str:
    """The type the checker gives ``expr`` (as a let), failing on any diagnostic."""
    result = check_source(f'ruleset r version "1" {{\n{INPUTS}\n  let probe = {expr}\n}}\n')
    assert [] == [d.message for d in result.diagnostics]
    return str(result.symbols["probe"].type)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a + 1", "int"),
        ("a / 2", "number"),
        ("d * 2", "number"),
        ("-a", "int"),
        ("a > 1 and not flag", "bool"),
        ("day <= 2023-02-28", "bool"),
        ('note == "x"', "bool"),
        ("rating in [good, bad]", "bool"),
        ("a in [1, 2]", "bool"),
        ("if flag then 1 else 2.5", "number"),
        ("if flag then rating else rating", "enum(good, bad)"),
        ("table rating { when good then 1  when bad then 0 }", "int"),
        ("table flag { when true then 1  when false then 0 }", "int"),
        ("table d { when >= 90% then 25  when in [1, 2] then 3  else 0 }", "int"),
        ("min(a, 2)", "int"),
        ("max(a, d)", "number"),
        ("clamp(d, 0, 10)", "number"),
        ("round(d, 2)", "number"),
        ("round(d, 0)", "int"),
        ("floor(d) + ceil(d)", "int"),
        ("abs(d)", "number"),
        ("count(items)", "int"),
        ("count(items where kind == x)", "int"),
        ("any(items where points > 1)", "bool"),
        ("all(items where kind in [x, y])", "bool"),
        ("sum(items of points * 2 where kind != y)", "number"),
        ("bloc_max(a) + bloc_avg(d)", "number"),
        ("bloc_count(flag)", "int"),
    ],
)
def test_expression_types(expr: str, expected: str) -> None:
    """Each expression form gets its static type (ints stay ints where exact)."""
    assert expected == type_of(expr)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("flag + 1", "`+` needs numbers, but this is a bool + a number"),
        ("day == 3", "cannot compare a date with a number"),
        ("rating < good", "`<` compares numbers or dates, not values of enum rating"),
        ("rating == goood", "unknown value 'goood' of rating"),
        ("items == items", "lists cannot be compared; use count(…), any(…) or all(…)"),
        ("flag in [true]", "`in [...]` needs an enum, level, text, number or unit, not a bool"),
        ("rating in [good, 1]", "this option is a number, but the tested value is a value of enum rating"),
        (
            "sum(items of kind)",
            "the `of` expression of `sum` must be a number, but this is a value of enum items.kind",
        ),
        ("count(items where zz)", "unknown name 'zz'"),
        ("round(d, 11)", "round to 11 places is more than the 10 places allowed"),
        ("abs()", "`abs` takes 1 argument, got 0: abs(x)"),
        ("rank(a)", "`rank(unit)` is only available inside a rotation's `where`"),
        ("a / -0", "division by zero"),
    ],
)
def test_expression_errors(expr: str, message: str) -> None:
    """Misused expressions give one clear error each."""
    result = check_source(f'ruleset r version "1" {{\n{INPUTS}\n  let probe = {expr}\n}}\n')
    assert [message] == [d.message for d in result.diagnostics]


@pytest.mark.parametrize("name", ["level", "bonus", "penalty"])
def test_names_of_missing_blocks(name: str) -> None:
    """`level`, `bonus` and `penalty` without their block say which block is missing."""
    result = check_source(f'ruleset r version "1" {{\n{INPUTS}\n  let probe = {name}\n}}\n')
    block = "classify" if name == "level" else name
    assert [f"'{name}' needs a `{block}` block, and this ruleset has none"] == [
        d.message for d in result.diagnostics
    ]


def test_table_on_an_unknown_subject_reports_only_the_subject() -> None:
    """A table whose subject failed does not add errors for its bare-value rows."""
    result = check_source(
        f'ruleset r version "1" {{\n{INPUTS}\n  let probe = table ratin {{ when good then 1  else 0 }}\n}}\n'
    )
    assert ["unknown name 'ratin'"] == [d.message for d in result.diagnostics]
    assert "did you mean 'rating'?" == result.diagnostics[0].hint


def test_bare_value_hint_names_its_list_field() -> None:
    """A record field's value used bare is hinted with a `count(… where …)` comparison."""
    result = check_source(f'ruleset r version "1" {{\n{INPUTS}\n  let probe = x\n}}\n')
    assert ["compare it, e.g. `count(items where kind == x)`"] == [d.hint for d in result.diagnostics]


def test_not_equal_table_row_on_an_enum() -> None:
    """A `when != value` row on an enum resolves the value but does not count towards coverage."""
    result = check_source(
        f'ruleset r version "1" {{\n{INPUTS}\n  let probe = table rating {{ when != bad then 1  when bad then 0 }}\n}}\n'
    )
    assert ["table on rating has no `else` and no row for: good"] == [d.message for d in result.diagnostics]
    assert "int" == type_of("table rating { when != bad then 1  else 0 }")
