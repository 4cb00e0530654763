"""dsl.checker: names, types, cycles, warnings and the value rewrite."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl import nodes as n
from dsl.checker import CheckedRuleset, check, check_source, require_ok
from dsl.errors import RulesetError, render
from dsl.parser import RESERVED, parse

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "khoi3-2023.1.rules"


@pytest.fixture(scope="module")
def khoi3() -> CheckedRuleset:
    return check_source(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE))


def walk(node: object) -> list[object]:
    """Every AST node under ``node`` (dataclass fields, tuples), depth first."""
    out: list[object] = []
    todo = [node]
    while todo:
        cur = todo.pop()
        out.append(cur)
        if isinstance(cur, tuple):
            todo.extend(cur)
        elif hasattr(cur, "__dataclass_fields__"):
            todo.extend(getattr(cur, f) for f in cur.__dataclass_fields__ if f != "span")
    return out


def test_reference_example_is_clean(khoi3: CheckedRuleset) -> None:
    """The reference ruleset checks with no errors and no warnings."""
    assert () == khoi3.diagnostics
    assert khoi3.ok


def test_reference_example_level_values_become_enum_values(khoi3: CheckedRuleset) -> None:
    """`level == excellent` and `level in [excellent, good]` resolve the bare words as values."""
    tien_tien, quyet_thang = khoi3.ruleset.titles[0], khoi3.ruleset.titles[1]
    assert (
        n.InList(n.Name("level"), (n.EnumValue("excellent"), n.EnumValue("good")))
        == tien_tien.requires[0].expr
    )
    assert n.Binary("==", n.Name("level"), n.EnumValue("excellent")) == quyet_thang.requires[1].expr


def test_reference_example_record_fields_become_field_refs(khoi3: CheckedRuleset) -> None:
    """Inside `count(discipline where form in [...])`, `form` is a FieldRef and the options are values."""
    let = khoi3.symbols["severe_discipline"].node
    assert isinstance(let, n.Let)
    agg = let.expr
    assert isinstance(agg, n.ListAgg)
    expected = n.InList(
        n.FieldRef("form"),
        tuple(n.EnumValue(v) for v in ("warning", "demotion", "dismissal", "expulsion")),
    )
    assert expected == agg.where


def test_reference_example_table_rows_become_enum_values(khoi3: CheckedRuleset) -> None:
    """The rows of `table party_rating { when excellent … }` hold EnumValues."""
    party = khoi3.symbols["party"].node
    assert isinstance(party, n.Criterion)
    assert isinstance(party.expr, n.Table)
    assert [n.EnumValue(v) for v in ("excellent", "good", "done", "failed")] == [
        row.values[0] for row in party.expr.rows
    ]


def test_reference_example_has_no_bare_names_left_for_values(khoi3: CheckedRuleset) -> None:
    """Every Name left in the rewritten AST refers to a symbol."""
    names = {x.id for x in walk(khoi3.ruleset) if isinstance(x, n.Name)}
    assert set() == names - set(khoi3.symbols) - {"leader"}


def test_reference_example_order_puts_dependencies_first(khoi3: CheckedRuleset) -> None:
    """`order` lists every let/criterion/group and bonus, penalty, score, level after what they use."""
    order = khoi3.order
    position = {name: i for i, name in enumerate(order)}
    assert position["target_rate"] < position["targets"] < position["mission"] < position["score"]
    assert position["severe_discipline"] < position["level"]
    assert position["score"] < position["level"]
    assert {"bonus", "penalty", "score", "level", "plan", "leadership", "disciplined"} <= set(order)


def test_reference_example_symbols(khoi3: CheckedRuleset) -> None:
    """Symbols carry their kind, type and section."""
    assert "criterion" == khoi3.symbols["targets"].kind
    assert "mission" == khoi3.symbols["targets"].section
    assert "bonus" == khoi3.symbols["commendations"].section
    assert ("excellent", "good", "done", "failed") == khoi3.symbols["level"].type.values
    assert "title" == khoi3.symbols["co_bca"].kind
    assert "number" == khoi3.symbols["target_rate"].type.kind


def test_require_ok_raises_with_every_error() -> None:
    """require_ok raises a RulesetError carrying all errors of the file."""
    text = 'ruleset r version "1" { let a = b\n let c = d }'
    checked = check_source(text)
    with pytest.raises(RulesetError) as info:
        require_ok(checked, text)
    assert ["unknown name 'b'", "unknown name 'd'"] == [d.message for d in info.value.diagnostics]


def checked(body: str, tail: str = "") -> CheckedRuleset:
    """Check a ruleset whose items are ``body`` (and trailing test blocks ``tail``)."""
    return check_source(f'ruleset r version "1" {{\n{body}\n}}\n{tail}')


def messages(result: CheckedRuleset) -> list[str]:
    return [d.message for d in result.diagnostics]


def test_enum_value_wins_over_a_declared_name() -> None:
    """In a value position a bare enum value wins over a let of the same name (SPEC §1.3)."""
    result = checked(
        "input rating: enum(good, bad)\nlet good = 3\nlet top = rating == good\nlet n = good + 1"
    )
    assert [] == messages(result)
    top = result.symbols["top"].node
    assert n.Binary("==", n.Name("rating"), n.EnumValue("good")) == top.expr
    assert n.Binary("+", n.Name("good"), n.Number(Decimal(1), "int", "1")) == result.symbols["n"].node.expr


def test_value_on_the_left_side() -> None:
    """`excellent == level` resolves the left operand by the right one's type."""
    result = checked(
        'input a: int >= 0\nclassify { level excellent "x" when a > 1\n level other "y" otherwise }'
    )
    result = checked(
        'input a: int >= 0\nlet top = excellent == level\nclassify { level excellent "x" when a > 1\n'
        ' level other "y" otherwise }'
    )
    assert [] == messages(result)
    assert n.Binary("==", n.EnumValue("excellent"), n.Name("level")) == result.symbols["top"].node.expr


def test_field_shadows_outer_name_inside_where() -> None:
    """Inside `where`, a record field shadows an input of the same name; outside it does not."""
    result = checked(
        "input months: int >= 0\ninput discipline: list of { months: int }\n"
        "let long = count(discipline where months > 6)\nlet outer = months + 1"
    )
    assert [] == messages(result)
    agg = result.symbols["long"].node.expr
    assert isinstance(agg.where, n.Binary)
    assert n.FieldRef("months") == agg.where.left
    assert n.Name("months") == result.symbols["outer"].node.expr.left


def test_sum_of_with_where_types_and_rewrites() -> None:
    """`sum(L of E where C)` is a number; E and C see the fields."""
    result = checked(
        "input items: list of { points: decimal, kind: enum(a, b) }\n"
        "let total = sum(items of points where kind == a) + 1"
    )
    assert [] == messages(result)
    agg = result.symbols["total"].node.expr.left
    assert n.FieldRef("points") == agg.of
    assert n.Binary("==", n.FieldRef("kind"), n.EnumValue("a")) == agg.where


def test_lets_may_be_used_before_declared_and_order_follows_use() -> None:
    """Declaration order does not matter: `order` puts a let after the lets it uses."""
    result = checked("input a: int >= 0\nlet c = b + 1\nlet b = a * 2")
    assert [] == messages(result)
    assert ("b", "c", "score") == result.order
    assert "number" == result.symbols["c"].type.kind


def num(value: int) -> n.Number:
    return n.Number(Decimal(value), "int", str(value))


def int_input(name: str, low: int) -> n.Input:
    return n.Input(name, n.SimpleType("int"), n.Constraint(">=", num(low), None), None, None)


def test_long_chain_of_lets_written_last_first() -> None:
    """A chain of 3000 lets, each using the next one declared, checks without exhausting the stack."""
    size = 3000
    lets = [n.Let(f"v{i}", n.Binary("+", n.Name(f"v{i + 1}"), num(1))) for i in range(size)]
    ruleset = n.Ruleset("r", "1", None, (int_input("a", 0), *lets, n.Let(f"v{size}", n.Name("a"))))
    result = check(ruleset)
    assert [] == messages(result)
    assert f"v{size}" == result.order[0]
    assert "v0" == result.order[size]


def test_checker_is_linear_in_ruleset_size() -> None:
    """Checking 4x the declarations runs about 4x the lines of Python, not 16x (no quadratic scans)."""

    def ruleset(size: int) -> n.Ruleset:
        rating = n.Input("r", n.EnumType(("x", "y")), None, None, None)
        lets = [n.Let("l0", num(1))]
        for i in range(1, size):
            ratio = n.Binary("/", n.Name("a"), n.Name("a"))
            pick = n.IfExpr(n.Binary("==", n.Name("r"), n.Name("x")), num(1), num(0))
            lets.append(n.Let(f"l{i}", n.Binary("+", n.Binary("+", ratio, n.Name(f"l{i - 1}")), pick)))
        criteria = [n.Criterion("c0", "C", num(1), num(0))]
        criteria += [
            n.Criterion(f"c{i}", "C", num(1), n.Binary("+", n.Name(f"l{i}"), n.Name(f"c{i - 1}")))
            for i in range(1, size)
        ]
        group = n.Group("g", "G", num(size), tuple(criteria))
        return n.Ruleset("r", "1", None, (int_input("a", 1), rating, *lets, group))

    def lines_run(rs: n.Ruleset) -> int:
        # Count executed lines, not seconds: deterministic whatever the machine's load.
        count = 0

        def tracer(frame: FrameType, event: str, arg: object) -> Any:
            nonlocal count
            if event == "line":
                count += 1
            return tracer

        sys.settrace(tracer)
        try:
            result = check(rs)
        finally:
            sys.settrace(None)
        assert () == result.diagnostics
        return count

    small, large = lines_run(ruleset(100)), lines_run(ruleset(400))
    assert large < 4.5 * small


def test_trailing_tests_are_checked_and_rewritten() -> None:
    """Test blocks after the ruleset: enum givens become EnumValue, records RecordValue with EnumValue fields."""
    result = checked(
        "input rating: enum(good, bad)\ninput items: list of { kind: enum(x, y), n: int }",
        'test "t" {\n given { rating = good\n items = [{ kind = x, n = 2 }] }\n expect score == 0\n}',
    )
    assert [] == messages(result)
    (test,) = result.tests
    assert n.EnumValue("good") == test.given[0].value
    items = test.given[1].value
    assert isinstance(items, n.ListValue)
    assert (
        n.RecordValue((("kind", n.EnumValue("x")), ("n", n.Number(Decimal(2), "int", "2")))) == items.items[0]
    )


def test_expect_sees_titles_as_eligibility() -> None:
    """A test's `expect` may name titles (bool), levels and criteria."""
    result = checked(
        'input a: int >= 0\ngroup g "G" max 5 { criterion c "C" max 5 = a }\n'
        'classify { level top "T" when score > 3\n level rest "R" otherwise }\n'
        'title best "B" { require level == top }',
        'test "t" {\n given { a = 4 }\n expect best and level == top and c == 4 and g == 4\n}',
    )
    assert [] == messages(result)


def test_tests_for_another_ruleset_are_left_alone() -> None:
    """A test `for` another ruleset is not checked against this one."""
    result = checked("input a: int >= 0", 'test "t" for other version "2" {\n given { b = 1 }\n expect zz\n}')
    assert [] == messages(result)


def test_input_default_enum_value_is_rewritten() -> None:
    """An enum input's default becomes an EnumValue."""
    result = checked("input rating: enum(good, bad) default bad")
    assert n.EnumValue("bad") == result.symbols["rating"].node.default


def test_title_may_use_earlier_titles_rank_and_bloc_size() -> None:
    """Inside a title, earlier titles are bools and rank/bloc_size are ints; `rank by` keys are checked."""
    result = checked(
        'input v: int >= 0\ntitle a "A" { require v > 1 }\n'
        'title b "B" { require a and rank <= bloc_size / 2\n rank by v desc\n quota 1 }'
    )
    assert [] == messages(result)


def test_rotation_of_the_reference_shape() -> None:
    """The rotation functions type-check inside `where`, with `leader` only in the deputy chain."""
    result = checked(
        'input v: int >= 0\nclassify { level good "G" when v > 1\n level rest "R" otherwise }\n'
        'title flag "F" { require v > 2 }\n'
        "rotation {\n leader = elected.leader else current.deputy else first of members where "
        "awarded(unit, flag) and level(unit) == good and score(unit) > 3 and rank(unit) <= bloc_size\n"
        " deputy = next after leader where not held(unit, deputy, 2) else first of ranking\n}"
    )
    assert [] == messages(result)
    rotation = result.ruleset.first(n.Rotation)
    where = rotation.rules[0].picks[2].where
    assert n.EnumValue("good") == where.left.left.right.right


def test_bloc_aggregates_on_inputs_and_pure_lets() -> None:
    """bloc_max over an input or a let of inputs is accepted and typed as a number."""
    result = checked(
        "input met: int >= 0\ninput assigned: int >= 1\nlet rate = met / assigned\n"
        'group g "G" max 10 { criterion best "B" max 10 = 10 * rate / bloc_max(rate) }\n'
        "let many = bloc_count(met > 3) + bloc_avg(met)"
    )
    assert [] == messages(result)
    assert "number" == result.symbols["many"].type.kind


def test_diagnostics_are_sorted_in_source_order() -> None:
    """All diagnostics come out sorted by line and column, whatever order they were found in."""
    result = checked("let z = zz\nlet a = b\ninput q: int\nlet w = 1 / q")
    keys = [(d.span.line, d.span.column) for d in result.diagnostics]
    assert sorted(keys) == keys
    assert 3 == len(keys)


def test_checking_a_checked_ruleset_changes_nothing(khoi3: CheckedRuleset) -> None:
    """The rewrite is idempotent: checking the rewritten AST again gives the same AST and no diagnostics."""
    again = check(khoi3.ruleset)
    assert () == again.diagnostics
    assert khoi3.ruleset == again.ruleset


def test_division_by_bound_through_other_inputs() -> None:
    """A divisor bounded below by another input that excludes 0 does not warn; one that includes 0 does."""
    result = checked(
        "input m: int >= 1\ninput k: int >= m\ninput z: int >= 0\ninput j: int >= z\n"
        "input p: decimal > 0\ninput neg: int < 0\ninput e: int >= 2 * m\n"
        "let a = 1 / k + 1 / p + 1 / neg + 1 / e\nlet b = 1 / j"
    )
    assert ["division by 'j', whose declared range includes 0 (declared `>= z`)"] == messages(result)


# --------------------------------------------------------------- robustness

WORD = re.compile(r"(?<![\w\"])[^\W\d]\w*(?![\w\"])")
SOURCE = FIXTURE.read_text(encoding="utf-8")
WORDS = [m for m in WORD.finditer(SOURCE) if m.group() not in RESERVED]
VOCABULARY = sorted(
    {m.group() for m in WORDS}
    | {
        "zz",
        "leader",
        "unit",
        "rank",
        "bloc_size",
        "current.leader",
        "score(unit)",
        "1",
        "true",
        "2023-01-01",
    }
    | {'"x"', "count(discipline)", "bloc_max(score)", "held(unit, leader, 1)", "min()", "-members"}
)
OPERATORS = [m for m in re.finditer(r" (\+|-|\*|/|==|!=|>=|<=|>|<|and|or) ", SOURCE)]
OPERATOR_CHOICES = ["+", "-", "*", "/", "==", "!=", ">=", "<", "and", "or"]


@st.composite
def mutated_sources(draw: st.DrawFn) -> str:
    """The reference ruleset with a few names swapped for other names, literals or
    calls, and a few operators swapped for others."""
    edits: list[tuple[int, int, str]] = []
    count = draw(st.integers(min_value=1, max_value=6))
    for index in draw(st.lists(st.integers(0, len(WORDS) - 1), min_size=count, max_size=count, unique=True)):
        match = WORDS[index]
        edits.append((match.start(), match.end(), draw(st.sampled_from(VOCABULARY))))
    for index in draw(st.lists(st.integers(0, len(OPERATORS) - 1), max_size=3, unique=True)):
        match = OPERATORS[index]
        edits.append((match.start(), match.end(), f" {draw(st.sampled_from(OPERATOR_CHOICES))} "))
    text = SOURCE
    # Operators sit between names, so the edits never overlap; apply them right to left.
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


@settings(max_examples=30)
@given(mutated_sources())
def test_checker_never_crashes_on_mutated_rulesets(text: str) -> None:
    """Whatever names are swapped, checking raises nothing but our own errors and every diagnostic renders."""
    try:
        source_file = parse(text, "m.rules")
    except RulesetError:
        return
    assert source_file.ruleset is not None
    result = check(source_file.ruleset, source=source_file.source, tests=source_file.tests)
    for diag in result.diagnostics:
        assert diag.span.line >= 1
        assert diag.span.file == "m.rules"
        assert render(diag, source_file.source).count("\n") == 2


def test_absurdly_deep_expression_is_an_error_not_a_crash() -> None:
    """An expression nested deeper than Python's stack allows gives one `limit` diagnostic."""
    expr: n.Expr = num(1)
    for _ in range(20000):
        expr = n.Unary("-", expr)
    result = check(n.Ruleset("r", "1", None, (n.Let("deep", expr),)))
    assert ["limit"] == [d.code for d in result.diagnostics]
    assert not result.ok
