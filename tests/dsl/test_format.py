"""Tests for dsl.format: canonical layout, comments, parentheses, golden files, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------------ comments


def test_own_line_comment_stays_before_its_item_at_its_indentation() -> None:
    """A comment on its own line moves with the declaration that follows, indented like it."""
    text = fmt('group g "G" max 1 {\n# about c\n        criterion c "C" = 1 }')
    assert '  group g "G" max 1 {\n    # about c\n    criterion c "C" = 1\n  }' == body_of(text)


def test_trailing_comment_stays_at_the_end_of_its_item() -> None:
    """A comment after code stays at the end of that item's line, two spaces after it."""
    text = fmt('input a: int  "A"    # why\nlet x = 1 # because')
    assert '  input a: int  "A"  # why\n\n  let x = 1  # because' == body_of(text)


def test_comment_inside_a_multiline_expression_moves_before_the_item() -> None:
    """Comments inside an expression that printing joins onto one line go before the item."""
    text = fmt("let x = a + # first part\n  # middle\n  b # last part")
    assert "  # first part\n  # middle\n  let x = a + b  # last part" == body_of(text)


def test_comments_in_a_table_stay_with_their_rows() -> None:
    """Comments before and after table rows stay next to those rows."""
    text = fmt("let x =\n table y {\n # top\n when 1 then 2 # one\n # bottom\n }")
    expected = "  let x =\n    table y {\n      # top\n      when 1 then 2  # one\n      # bottom\n    }"
    assert expected == body_of(text)


def test_comment_before_a_closing_brace_stays_inside_the_block() -> None:
    """A comment after the last item of a block stays in the block."""
    text = fmt('classify {\n level a "A" otherwise\n # no more levels\n}\n# end of ruleset')
    expected = '  classify {\n    level a "A" otherwise\n    # no more levels\n  }\n  # end of ruleset'
    assert expected == body_of(text)


def test_hash_inside_a_string_is_not_a_comment() -> None:
    """A `#` inside a label is text, not a comment, and is printed once."""
    assert '  description "Khối # 3"  # real' == body_of(fmt('description "Khối # 3" # real'))


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


REFERENCE = (GOLDEN / "format" / "khoi3_reference.rules").read_text(encoding="utf-8")
REFERENCE_LINES = REFERENCE.split("\n")


@settings(max_examples=10)  # each example parses the reference ruleset six times
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(REFERENCE_LINES) - 1),
            st.booleans(),
            st.text('abc đ#"{}', max_size=8),
        ),
        max_size=6,
    )
)
def test_comments_anywhere_are_kept_and_formatting_settles(edits: list[tuple[int, bool, str]]) -> None:
    """Comments added on any line (own-line or trailing) are all kept, and a second format changes nothing."""
    lines = list(REFERENCE_LINES)
    for i, (at, trailing, text) in enumerate(edits):
        comment = f"# c{i} {text}".rstrip()
        if trailing:
            lines[at] = lines[at] + "  " + comment
        else:
            lines.insert(at, comment)
    source = "\n".join(lines)
    once = format_checked(source, "k.rules")
    assert once == format_checked(once, "k.rules")
    assert sorted(c.text for c in parse(source).comments) == sorted(c.text for c in parse(once).comments)


@settings(max_examples=50)  # four parses per example
@given(strategies.source_files(), st.lists(st.tuples(st.integers(0, 10**6), st.booleans()), max_size=8))
def test_comments_added_to_random_trees_are_kept_and_settle(
    tree: SourceFile, edits: list[tuple[int, bool]]
) -> None:
    """Own-line and trailing comments added anywhere in any formatted tree survive, and formatting settles."""
    lines = format_source(tree).split("\n")
    for i, (at, trailing) in enumerate(edits):
        at %= len(lines)
        if trailing and lines[at].strip():
            lines[at] += f"  # t{i}"
        else:
            lines.insert(at, f"# o{i}")
    once = format_checked("\n".join(lines), tree.path)
    assert once == format_checked(once, tree.path)
