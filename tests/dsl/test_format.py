"""Tests for dsl.format: canonical layout, parentheses, golden files, the safety check, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from dsl import format as fmt_module
from dsl.format import ALIGN_LIMIT, FormatError, format_checked, format_expr, format_source, format_text
from dsl.nodes import Expr, SourceFile
from dsl.parser import parse, parse_expr
from tests.dsl import strategies
from tests.dsl.golden_runner import GOLDEN, cases, check_golden


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("a - (b - c)", "a - (b - c)"),
        ("(a * b) + c", "a * b + c"),
        ("(a - b) - c", "a - b - c"),
        ("a / (b * c)", "a / (b * c)"),
        ("(a < b) == c", "(a < b) == c"),
        ("a == (b < c)", "a == (b < c)"),
        ("(not a) and b", "not a and b"),
        ("not (a and b)", "not (a and b)"),
        ("a or (b or c)", "a or (b or c)"),
        ("(a or b) and c", "(a or b) and c"),
        ("-(a + b)", "-(a + b)"),
        ("(-a) * b", "-a * b"),
        ("(if a then b else c) + 1", "(if a then b else c) + 1"),
        ("if a then b else (if c then d else e)", "if a then b else if c then d else e"),
        ("(x in [a, b]) == c", "(x in [a, b]) == c"),
        ("(a + b) in [c]", "a + b in [c]"),
    ],
)
def test_format_expr_parenthesizes_minimally(written: str, expected: str) -> None:
    """Parentheses are kept exactly where precedence or associativity needs them."""
    assert expected == format_expr(parse_expr(written))
    assert parse_expr(written) == parse_expr(expected)


def test_format_expr_keeps_literals_as_written() -> None:
    """Percent and decimal literals print as written; strings are re-escaped."""
    assert 'max(70%, 12.50, 007) + "a\\"b\\\\c\\nd"' == format_expr(
        parse_expr('max(70%,12.50,007)+"a\\"b\\\\c\\nd"')
    )


def test_format_expr_puts_table_rows_on_their_own_lines() -> None:
    """A table prints one row per line, indented under the line it starts on."""
    expr = parse_expr("2 * table r { when >= 90% then 25 when in [a, b] then 1 else 0 } + 1")
    assert "2 * table r {\n  when >= 90% then 25\n  when in [a, b] then 1\n  else 0\n} + 1" == format_expr(
        expr
    )


# ------------------------------------------------------------------ golden files

FORMAT_CASES = cases("format")


def test_there_are_format_golden_cases() -> None:
    """The golden folder holds the reference ruleset and the layout/comment cases."""
    assert {"khoi3_reference", "comments", "parentheses", "layout", "tests_only"} <= set(FORMAT_CASES)


@pytest.mark.parametrize("name", FORMAT_CASES)
def test_format_golden(name: str) -> None:
    """golden/format/NAME.rules formats exactly to NAME.expected."""
    source = (GOLDEN / "format" / f"{name}.rules").read_text(encoding="utf-8")
    check_golden(GOLDEN / "format" / f"{name}.expected", format_text(source, f"{name}.rules"))


@pytest.mark.parametrize("name", FORMAT_CASES)
def test_format_golden_is_idempotent_and_keeps_meaning(name: str) -> None:
    """Formatting the expected text changes nothing; it parses to the input's tree with its comments."""
    source = (GOLDEN / "format" / f"{name}.rules").read_text(encoding="utf-8")
    formatted = (GOLDEN / "format" / f"{name}.expected").read_text(encoding="utf-8")
    assert formatted == format_text(formatted, "x.rules")
    before, after = parse(source, "x.rules"), parse(formatted, "x.rules")
    assert before == after
    assert sorted(c.text for c in before.comments) == sorted(c.text for c in after.comments)


# ------------------------------------------------------------------ layout rules

HEADER = 'ruleset r version "1" {\n'


def fmt(body: str) -> str:
    """Format a ruleset whose items are ``body``."""
    return format_text(HEADER + body + "\n}\n")


def body_of(formatted: str) -> str:
    """The formatted items, without the ``ruleset`` header and closing brace."""
    lines = formatted.split("\n")
    assert HEADER.strip() == lines[0]
    assert ["}", ""] == lines[-2:]
    return "\n".join(lines[1:-2])


def test_sort_keys_get_explicit_directions() -> None:
    """Every sort key prints `asc` or `desc`, defaulting to `desc` when omitted."""
    assert "  ranking by score desc, votes asc, a + b desc" == body_of(
        fmt("ranking by score, votes asc, (a+b)")
    )


def test_rounding_prints_its_mode() -> None:
    """`rounding N` prints the default mode explicitly."""
    assert "  rounding 2 half_up" == body_of(fmt("rounding 2"))


def test_blank_lines_separate_sections_and_blocks() -> None:
    """Runs of one kind of line stay together; blocks and kind changes get one blank line."""
    text = fmt(
        'description "d" effective 2023-01-01 to 2023-12-31 input a: int input b: int let x = 1 let y = 2 '
        'group g "G" max 1 { } group h "H" max 1 { } score = x ranking by x'
    )
    expected = (
        '  description "d"\n  effective 2023-01-01 to 2023-12-31\n\n'
        "  input a: int\n  input b: int\n\n  let x = 1\n  let y = 2\n\n"
        '  group g "G" max 1 {\n  }\n\n  group h "H" max 1 {\n  }\n\n  score = x\n\n  ranking by x desc'
    )
    assert expected == body_of(text)


def test_labels_align_within_a_run_of_inputs() -> None:
    """Input labels start in one column, two spaces after the longest input that fits the limit."""
    text = fmt('input a: int "A" input longer_name: int >= 0 "B" input c: bool "C"')
    assert (
        '  input a: int                 "A"\n  input longer_name: int >= 0  "B"\n  input c: bool                "C"'
        == body_of(text)
    )


def test_an_input_longer_than_the_limit_keeps_two_spaces() -> None:
    """An input longer than ALIGN_LIMIT does not push the others' labels right."""
    long_enum = "enum(" + ", ".join(f"value{i}" for i in range(8)) + ")"
    text = body_of(fmt(f'input a: int "A" input b: {long_enum} "B"'))
    assert f'  input a: int  "A"\n  input b: {long_enum}  "B"' == text
    assert len(f"input b: {long_enum}") > ALIGN_LIMIT


def test_require_reasons_align_within_a_title() -> None:
    """Require reasons line up; quota and rank by follow the requires."""
    text = fmt('title t "T" { quota 20% rank by score require a "A" require bb > 1 "B" require c }')
    expected = (
        '  title t "T" {\n    require a       "A"\n    require bb > 1  "B"\n    require c\n'
        "    quota 20%\n    rank by score desc\n  }"
    )
    assert expected == body_of(text)


def test_rotation_alternatives_one_per_line() -> None:
    """Each `else` alternative of a rotation rule starts a line aligned under the first one."""
    text = fmt("rotation { deputy = first of ranking where unit != leader else next after leader }")
    expected = (
        "  rotation {\n    deputy = first of ranking where unit != leader\n"
        "             else next after leader\n  }"
    )
    assert expected == body_of(text)


def test_a_table_that_is_the_whole_expression_starts_on_its_own_line() -> None:
    """`= table …` breaks after `=` and indents the table; rows one per line."""
    text = fmt('group g "G" max 8 { criterion p "P" max 8 = table r { when a then 8 else 0 } }')
    expected = (
        '  group g "G" max 8 {\n    criterion p "P" max 8 =\n      table r {\n'
        "        when a then 8\n        else 0\n      }\n  }"
    )
    assert expected == body_of(text)


def test_long_expressions_stay_on_one_line() -> None:
    """An expression without a table is never broken, however long."""
    expr = " + ".join(f"criterion_value_{i}" for i in range(20))
    broken = expr.replace(" + ", "\n + ")
    assert f"  let total = {expr}" == body_of(fmt(f"let total =\n {broken}"))


def test_given_values_print_canonically() -> None:
    """Lists and records in `given` print with `, ` separators and spaces inside braces."""
    text = format_text('test "t" { given { d = [{form=warning,},{ }] n = - 2 } }')
    assert 'test "t" {\n  given {\n    d = [{ form = warning }, {}]\n    n = -2\n  }\n}\n' == text


def test_empty_and_comment_only_files() -> None:
    """An empty file stays empty; a file of comments keeps them."""
    assert "" == format_text("")
    assert "# one\n# two\n" == format_text("  # one\n\n# two")


def test_formatted_file_ends_with_one_newline() -> None:
    """Output ends with exactly one newline whatever the input ended with."""
    assert format_text('ruleset r version "1" { }\n\n\n').endswith("{\n}\n")
    assert format_text('ruleset r version "1" { }').endswith("{\n}\n")


# ------------------------------------------------------------------ safety


def test_format_checked_refuses_a_result_that_changes_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    """If printing ever produced another tree, format_checked raises instead of returning it."""
    monkeypatch.setattr(fmt_module, "format_source", lambda sf: HEADER + "  let x = 2\n}\n")
    with pytest.raises(FormatError, match="means something else"):
        format_checked(HEADER + "let x = 1\n}", "r.rules")


def test_format_checked_refuses_to_lose_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    """If printing ever dropped a comment, format_checked raises instead of returning it."""
    monkeypatch.setattr(fmt_module, "format_source", lambda sf: HEADER + "  let x = 1\n}\n")
    with pytest.raises(FormatError, match="comment"):
        format_checked(HEADER + "let x = 1 # keep me\n}", "r.rules")


# ------------------------------------------------------------------ properties


@given(strategies.source_files())
def test_random_trees_round_trip_and_formatting_is_idempotent(tree: SourceFile) -> None:
    """Any valid tree formats to text that parses back to the same tree; formatting that text changes nothing."""
    text = format_source(tree)
    back = parse(text, tree.path)
    assert tree == back
    assert text == format_source(back)


@given(strategies.expressions)
def test_format_expr_round_trips(expr: Expr) -> None:
    """format_expr prints any expression so that parse_expr rebuilds it."""
    assert expr == parse_expr(format_expr(expr))
