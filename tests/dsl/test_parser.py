"""Tests for dsl.parser: the reference ruleset, worded syntax errors, literals, soft keywords, robustness."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import re
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl import nodes as n
from dsl.errors import RulesetError
from dsl.parser import RESERVED, parse, parse_expr
from tests.dsl.golden_runner import GOLDEN, cases, check_golden

EXAMPLE = (GOLDEN / "format" / "khoi3_reference.rules").read_text(encoding="utf-8")
HEADER = 'ruleset r version "1" {\n'


def ruleset(body: str) -> n.Ruleset:
    """Parse a ruleset whose items are ``body``."""
    sf = parse(HEADER + body + "\n}\n", "r.rules")
    assert sf.ruleset is not None
    return sf.ruleset


def syntax_error(text: str) -> RulesetError:
    """The error raised by parsing ``text`` (fails the test if it parses)."""
    with pytest.raises(RulesetError) as info:
        parse(text, "r.rules")
    return info.value


# ------------------------------------------------------------- reference ruleset


def test_reference_ruleset_has_the_expected_shape() -> None:
    """The reference example parses: 25 inputs, 3 lets, 5 groups, bonus, penalty, 4 levels, 4 titles."""
    r = parse(EXAMPLE, "khoi3-2023.1.rules").ruleset
    assert r is not None
    assert ("khoi3", "2023.1", None) == (r.name, r.version, r.parent)
    assert 25 == len(r.inputs)
    assert ["target_rate", "disciplined", "severe_discipline"] == [x.name for x in r.of_kind(n.Let)]
    assert ["leadership", "mission", "force", "logistics", "models"] == [g.name for g in r.groups]
    assert [10, 50, 20, 10, 10] == [int(g.max.value) for g in r.groups]
    assert ["tien_tien", "quyet_thang", "co_bca", "co_ubnd"] == [t.name for t in r.titles]
    assert [None, None, 1, 1] == [t.quota.count if t.quota else None for t in r.titles]
    classify = r.first(n.Classify)
    assert ["excellent", "good", "done", "failed"] == [lv.name for lv in classify.levels]
    assert classify.levels[-1].when is None
    assert n.Rounding(2, "half_up") == r.rounding
    assert n.Effective(dt.date(2023, 1, 1), dt.date(2023, 12, 31)) == r.first(n.Effective)


def test_reference_ruleset_rotation_rules() -> None:
    """The rotation promotes the deputy, else rotates; the deputy is the best unit not just leader."""
    r = parse(EXAMPLE).ruleset
    assert r is not None
    rotation = r.first(n.Rotation)
    leader, deputy = rotation.rule("leader"), rotation.rule("deputy")
    assert (
        n.RefPick("current", "deputy"),
        n.NextAfterPick(n.Attribute("current", "leader"), None),
    ) == leader.picks
    first, fallback = deputy.picks
    assert n.FirstOfPick("ranking", parse_expr("unit != leader and not held(unit, leader, 1)")) == first
    assert n.NextAfterPick(n.Name("leader"), None) == fallback


def test_reference_ruleset_table_and_list_aggregates() -> None:
    """The targets table keeps its rows in order; count(L where C) is a list aggregate."""
    r = parse(EXAMPLE).ruleset
    assert r is not None
    targets = r.groups[1].criteria[0]
    assert isinstance(targets.expr, n.Table)
    assert [(">=", Decimal("1")), (">=", Decimal("0.9")), (">=", Decimal("0.8"))] == [
        (row.op, row.values[0].value) for row in targets.expr.rows if isinstance(row.values[0], n.Number)
    ]
    severe = r.of_kind(n.Let)[2].expr
    assert isinstance(severe, n.ListAgg)
    assert ("count", n.Name("discipline"), None) == (severe.func, severe.source, severe.of)
    assert isinstance(severe.where, n.InList)


def test_spans_count_characters_on_vietnamese_lines() -> None:
    """A node after a Vietnamese label starts at its character column, not its byte offset."""
    r = ruleset('  group g "Điểm thưởng" max 10 { criterion c "Hoàn thành" = x }')
    criterion = r.groups[0].criteria[0]
    line = '  group g "Điểm thưởng" max 10 { criterion c "Hoàn thành" = x }'
    assert line.index("criterion") + 1 == criterion.span.column
    assert line.index("x }") + 1 == criterion.expr.span.column
    assert (2, 2) == (criterion.span.line, criterion.expr.span.line)


# ----------------------------------------------------------------- syntax errors


def test_missing_number_after_max_is_worded_for_authors() -> None:
    """`group g "x" max {` says a number was expected after `max`, caret under `{`."""
    err = syntax_error(HEADER + '  group g "x" max {\n  }\n}\n')
    [diag] = err.diagnostics
    assert "expected a number after `max`, found `{`" == diag.message
    assert (2, 19, 20) == (diag.span.line, diag.span.column, diag.span.end_column)
    assert (
        '      group g "x" max {\n                      ^' == "\n".join(err.render().split("\n")[1:]).rstrip()
    )


def test_column_after_a_vietnamese_label_counts_characters() -> None:
    """The caret of an error after a Vietnamese label sits under the offending token."""
    line = '  group g "Công tác lãnh đạo, chỉ đạo" max {'
    err = syntax_error(HEADER + line + "\n  }\n}\n")
    [diag] = err.diagnostics
    assert line.index("{") + 1 == diag.span.column
    assert len(line.encode("utf-8")) > len(line)  # bytes would put the caret elsewhere
    rendered = err.render().split("\n")
    assert "    " + line == rendered[1]
    assert rendered[2].index("^") == rendered[1].index("{")


def test_missing_else_names_the_else_branch() -> None:
    """An `if … then …` without `else` asks for `else` and explains why."""
    [diag] = syntax_error(HEADER + "  let a = if b then c\n}\n").diagnostics
    assert "expected `else` after `c`, found `}`" == diag.message
    assert "`if … then …` needs an `else` branch" == diag.hint
    assert (3, 1) == (diag.span.line, diag.span.column)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("let a = 1 + * 2", "expected an expression after `+`, found `*`"),
        ("let a = f(1,)", "expected an expression after `,`, found `)`"),
        ("input a: int >=\n", "expected an expression after `>=`, found `}`"),
    ],
)
def test_missing_operand_says_an_expression_was_expected(body: str, message: str) -> None:
    """A missing operand is reported as a missing expression, not a truncated list of tokens (fixed)."""
    [diag] = syntax_error(HEADER + "  " + body + "\n}\n").diagnostics
    assert message == diag.message


def test_unterminated_string() -> None:
    """A text without its closing quote on the same line is reported at its opening quote."""
    [diag] = syntax_error(HEADER + '  description "Khối thi đua\n}\n').diagnostics
    assert 'unterminated text: a `"` without its closing `"` on the same line' == diag.message
    assert (2, 15) == (diag.span.line, diag.span.column)


def test_unknown_rounding_mode_suggests_the_closest() -> None:
    """A misspelt rounding mode lists the modes and suggests the nearest one."""
    [diag] = syntax_error(HEADER + "  rounding 2 half_evn\n}\n").diagnostics
    assert "unknown rounding mode 'half_evn'; expected one of: half_up, half_even, down" == diag.message
    assert "did you mean 'half_even'?" == diag.hint
    assert (2, 14, 22) == (diag.span.line, diag.span.column, diag.span.end_column)


@pytest.mark.parametrize("word", ["then", "max", "title", "where"])
def test_reserved_word_cannot_be_a_name(word: str) -> None:
    """Declaring an input named with a reserved word is an error at that word."""
    [diag] = syntax_error(HEADER + f"  input {word}: int\n}}\n").diagnostics
    assert f"`{word}` is a reserved word and cannot be used as a name" == diag.message
    assert (2, 9) == (diag.span.line, diag.span.column)


def test_reserved_word_as_a_let_name_gets_a_hint() -> None:
    """A reserved word where a name must follow `let` says it is reserved."""
    [diag] = syntax_error(HEADER + "  let if = 1\n}\n").diagnostics
    assert "`if` is a reserved word and cannot be used as a name" == (diag.hint or diag.message)


def test_unknown_escape_points_at_the_escape() -> None:
    """`\\q` inside a text is an unknown escape, reported with the escapes that exist."""
    [diag] = syntax_error(HEADER + '  description "Điểm\\q"\n}\n').diagnostics
    assert "unknown escape `\\q` in text" == diag.message
    assert 'the escapes are \\" \\\\ and \\n' == diag.hint
    assert (2, 20, 22) == (diag.span.line, diag.span.column, diag.span.end_column)


def test_all_builder_errors_of_a_file_are_reported() -> None:
    """Several validation errors in one file are all reported, in source order."""
    err = syntax_error(HEADER + '  rounding 2 up\n  input then: int\n  description "\\x"\n}\n')
    assert [2, 3, 4] == [d.span.line for d in err.diagnostics]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    """Thousands of nested operators raise RulesetError, never RecursionError."""
    for text in ["-" * 3000 + "a", "not " * 3000 + "a", "a + (" * 1500 + "a" + ")" * 1500]:
        with pytest.raises(RulesetError, match=r"nests \d+ levels deep, more than the 64 allowed"):
            parse_expr(text)


# -------------------------------------------------------------------- literals


def test_percent_literal_is_exact() -> None:
    """`70%` is Decimal('0.70') exactly and keeps its text."""
    assert n.Number(Decimal("0.70"), "percent", "70%") == parse_expr("70%")
    assert Decimal("0.055") == parse_expr("5.5%").value  # type: ignore[union-attr]


def test_decimal_and_int_literals_keep_their_text() -> None:
    """`12.5` and `12.50` are equal values with different texts; ints stay ints."""
    assert n.Number(Decimal("12.5"), "decimal", "12.5") == parse_expr("12.5")
    assert "12.50" == parse_expr("12.50").text  # type: ignore[union-attr]
    assert n.Number(Decimal(7), "int", "7") == parse_expr("7")


def test_fifty_five_percent_of_a_hundred_is_exact() -> None:
    """55% × 100 is 55 exactly (binary floating point would say 55.000000000000007)."""
    expr = parse_expr("55% * 100")
    assert isinstance(expr, n.Binary) and isinstance(expr.left, n.Number) and isinstance(expr.right, n.Number)
    assert Decimal(55) == expr.left.value * expr.right.value


def test_date_literals() -> None:
    """Dates are YYYY-MM-DD; an impossible date is an error at the literal."""
    assert n.DateLit(dt.date(2023, 2, 28)) == parse_expr("2023-02-28")
    [diag] = syntax_error(HEADER + "  let d = 2023-02-30\n}\n").diagnostics
    assert "'2023-02-30' is not a valid date" == diag.message


def test_string_escapes_and_booleans() -> None:
    """`\\"`, `\\\\` and `\\n` unescape; `true`/`false` are booleans."""
    assert n.StringLit('a"b\\c\nd') == parse_expr('"a\\"b\\\\c\\nd"')
    assert (n.BoolLit(True), n.BoolLit(False)) == (parse_expr("true"), parse_expr("false"))


def test_decomposed_and_composed_names_are_the_same() -> None:
    """A name typed with decomposed diacritics equals the composed one (NFC)."""
    composed = "điểm_thưởng"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    r = ruleset(f"  input {decomposed}: int\n  let total = {composed} + 1")
    assert composed == r.inputs[0].name
    assert ruleset(f"  input {composed}: int\n  let total = {composed} + 1") == r


def test_decomposed_label_text_is_normalized() -> None:
    """Labels are NFC-normalized too."""
    label = unicodedata.normalize("NFD", "Hoàn thành xuất sắc")
    assert (
        unicodedata.normalize("NFC", label) == ruleset(f'  description "{label}"').first(n.Description).text
    )


# --------------------------------------------------------------- soft keywords


def test_input_named_members() -> None:
    """`members` is an ordinary name for an input and in expressions."""
    r = ruleset("  input members: int >= 1\n  let half = members / 2")
    assert "members" == r.inputs[0].name
    assert n.Binary("/", n.Name("members"), n.Number(Decimal(2), "int", "2")) == r.of_kind(n.Let)[0].expr


def test_rank_as_a_name_then_rank_by() -> None:
    """`require rank == 1` reads `rank` as a name; the following `rank by` as the clause."""
    r = ruleset('  title t "T" {\n    require rank == 1 "Dẫn đầu"\n    rank by score desc, rank asc\n  }')
    title = r.titles[0]
    assert n.Require(parse_expr("rank == 1"), "Dẫn đầu") == title.requires[0]
    assert (n.SortKey(n.Name("score"), True), n.SortKey(n.Name("rank"), False)) == title.rank_by


def test_level_and_score_as_names_in_expressions() -> None:
    """`level` and `score` are names inside expressions, keywords where declarations start."""
    r = ruleset(
        '  score = bonus + 1\n  classify {\n    level good "Tốt" when score >= 80 unless level == bad\n'
        '    level bad "Kém" otherwise\n  }\n  let lv = level in [good]'
    )
    good = r.first(n.Classify).levels[0]
    assert parse_expr("score >= 80") == good.when
    assert parse_expr("level == bad") == good.unless
    assert n.InList(n.Name("level"), (n.Name("good"),)) == r.of_kind(n.Let)[0].expr


@pytest.mark.parametrize("word", ["score", "level", "rank"])
def test_soft_keywords_as_given_names_after_a_value(word: str) -> None:
    """A `given` pair or record field named score/level/rank parses after another value (fixed bug)."""
    sf = parse(f'test "t" {{ given {{ a = 1 {word} = 2 b = {{ x = "s" {word} = 3 }} }} }}')
    pairs = sf.tests[0].given
    assert ["a", word, "b"] == [g.name for g in pairs]
    assert isinstance(pairs[2].value, n.RecordValue)
    assert ["x", word] == [name for name, _ in pairs[2].value.fields]


# ----------------------------------------------------------------- file shapes


def test_tests_only_file_and_tests_after_a_ruleset() -> None:
    """A file may hold only tests, or tests after its ruleset (both kept in order)."""
    only = parse('test "a" for khoi3 version "2023.1" { expect score == 1 }\ntest "b" { }')
    assert only.ruleset is None
    assert [("a", ("khoi3", "2023.1")), ("b", None)] == [(t.label, t.target) for t in only.tests]
    after = parse(HEADER + "}\n" + 'test "c" { given { x = [1, 2] } }')
    assert after.ruleset is not None
    assert n.ListValue((parse_expr("1"), parse_expr("2"))) == after.tests[0].given[0].value


def test_negative_given_values_keep_their_sign_in_the_text() -> None:
    """`- 1.50` in a given value is one negative number with text `-1.50`."""
    value = parse('test "t" { given { x = - 1.50 } }').tests[0].given[0].value
    assert n.Number(Decimal("-1.50"), "decimal", "-1.50") == value


def test_comments_are_collected_outside_strings() -> None:
    """Comments come with line and character column; `#` in a string is not one."""
    line = 'ruleset r version "1" { description "Khối # 3" # tail'
    sf = parse(f"# top\n{line}\n}}")
    assert [("# top", 1, 1), ("# tail", 2, line.index("# tail") + 1)] == [
        (c.text, c.line, c.column) for c in sf.comments
    ]


def test_comment_lines_count_newlines_only() -> None:
    """A form feed or line separator does not shift comment lines away from spans (fixed bug)."""
    sf = parse('ruleset r version "1" {\f description "a\u2028b"\n  # c\n}')
    assert [("# c", 2, 3)] == [(c.text, c.line, c.column) for c in sf.comments]


def test_parse_leaves_the_garbage_collector_as_it_found_it() -> None:
    """Parsing pauses the cyclic GC only while it runs, after success and after errors alike."""
    assert gc.isenabled()
    parse(EXAMPLE)
    assert gc.isenabled()
    with pytest.raises(RulesetError):
        parse(HEADER + "let = \n}")
    assert gc.isenabled()
    gc.disable()
    try:
        parse(EXAMPLE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_empty_file_parses_to_nothing() -> None:
    """An empty (or comment-only) file has no ruleset and no tests."""
    assert (None, ()) == (parse("").ruleset, parse("# only\n").tests)


# --------------------------------------------------------------- golden dumps


def dump(value: Any, indent: int = 0) -> list[str]:
    """A readable, indented dump of a node tree: one node per line, spans as @line:col-line:col."""
    pad = "  " * indent
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        scalars: list[str] = []
        nested: list[tuple[str, Any]] = []
        for f in dataclasses.fields(value):
            if not f.compare:  # spans (shown after the class name), and a file's source and comments
                continue
            v = getattr(value, f.name)
            if _is_tree(v):
                nested.append((f.name, v))
            else:
                scalars.append(f"{f.name}={_scalar(v)}")
        span = getattr(value, "span", None)
        where = f" @{span.line}:{span.column}-{span.end_line}:{span.end_column}" if span and span.line else ""
        lines = [f"{pad}{type(value).__name__}{where} {' '.join(scalars)}".rstrip()]
        for name, v in nested:
            lines.append(f"{pad}  {name}:")
            lines.extend(dump(v, indent + 2))
        return lines
    if isinstance(value, tuple):
        return [line for item in value for line in dump(item, indent)]
    return [f"{pad}{_scalar(value)}"]


def _is_tree(v: Any) -> bool:
    if dataclasses.is_dataclass(v):
        return True
    return isinstance(v, tuple) and any(dataclasses.is_dataclass(x) or isinstance(x, tuple) for x in v)


def _scalar(v: Any) -> str:
    if isinstance(v, Decimal | dt.date):
        return str(v)
    return repr(v)


PARSE_CASES = cases("parse")


def test_there_are_parse_golden_cases() -> None:
    """The parse golden folder covers the reference ruleset and every construct."""
    assert {"khoi3_reference", "every_construct", "tests_only"} <= set(PARSE_CASES)


@pytest.mark.parametrize("name", PARSE_CASES)
def test_parse_golden(name: str) -> None:
    """golden/parse/NAME.rules parses to the tree dumped in NAME.ast (comments listed last)."""
    sf = parse((GOLDEN / "parse" / f"{name}.rules").read_text(encoding="utf-8"), f"{name}.rules")
    lines = dump(sf)
    lines += [f"# comment {c.line}:{c.column} {c.text}" for c in sf.comments]
    check_golden(GOLDEN / "parse" / f"{name}.ast", "\n".join(lines) + "\n")


# ------------------------------------------------------------------ robustness

_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)?%?|\w+|==|!=|<=|>=|\.\.|\s+|.'
)
EXAMPLE_TOKENS = _TOKEN.findall(EXAMPLE)
VOCABULARY = sorted(
    {t for t in EXAMPLE_TOKENS if not t.isspace()} | RESERVED | {"{", "}", "(", ")", '"', "\\"}
)


def parse_or_ruleset_error(text: str) -> None:
    """Parse ``text``; only `RulesetError` may come out, and it must carry a diagnostic."""
    try:
        parse(text, "fuzz.rules")
    except RulesetError as exc:
        assert exc.diagnostics
        assert all(d.span.line >= 1 and d.span.column >= 1 for d in exc.diagnostics)
        exc.render()


@given(st.text(max_size=200))
def test_random_text_raises_only_ruleset_errors(text: str) -> None:
    """Arbitrary text never makes parse raise anything but RulesetError."""
    parse_or_ruleset_error(text)


@given(st.lists(st.sampled_from(VOCABULARY), max_size=60).map(" ".join))
def test_random_token_soup_raises_only_ruleset_errors(text: str) -> None:
    """Sequences of real keywords and tokens never make parse raise anything but RulesetError."""
    parse_or_ruleset_error(HEADER + text)


@settings(max_examples=60)  # each example parses the whole reference ruleset
@given(
    st.lists(
        st.tuples(
            st.sampled_from(("delete", "duplicate", "swap", "insert")),
            st.integers(0, len(EXAMPLE_TOKENS) - 1),
            st.sampled_from(VOCABULARY),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_reference_raises_only_ruleset_errors(edits: list[tuple[str, int, str]]) -> None:
    """Deleting, duplicating, swapping or inserting tokens in the example only ever gives RulesetError."""
    tokens = list(EXAMPLE_TOKENS)
    for op, at, word in edits:
        at %= len(tokens)
        if op == "delete":
            del tokens[at]
        elif op == "duplicate":
            tokens.insert(at, tokens[at])
        elif op == "swap" and at + 1 < len(tokens):
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        else:
            tokens.insert(at, f" {word} ")
    parse_or_ruleset_error("".join(tokens))


@pytest.mark.parametrize("separator", ["\u2028", "\f", "\x85", "\u2029"])
def test_rendered_lines_are_lark_lines(separator: str) -> None:
    """A line separator other than \\n inside a comment or string does not shift the line a diagnostic shows."""
    from dsl.checker import check_source
    from dsl.errors import render_all

    text = (
        f'ruleset r version "1" {{\n  # a{separator}b\n  description "x{separator}y"\n  let a = nothere\n}}\n'
    )
    checked = check_source(text, "r.rules")
    rendered = render_all(checked.diagnostics, text)
    assert "r.rules:4:11: error: unknown name 'nothere'" in rendered
    assert "\n      let a = nothere\n" in rendered + "\n"
    with pytest.raises(RulesetError) as caught:
        parse(f'ruleset r version "1" {{\n  # a{separator}b\n  let a = 1 +\n}}\n')
    (diag,) = caught.value.diagnostics
    assert diag.span.line == 4
    assert "after `+`" in diag.message
