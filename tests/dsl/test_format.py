"""Tests for dsl.format: canonical layout, comments, parentheses, golden files, round trips."""

from __future__ import annotations

import pytest

from dsl.format import format_expr
from dsl.parser import parse_expr


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
