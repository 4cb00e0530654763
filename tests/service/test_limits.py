"""Tests for service/limits.py: source size and nesting depth refused by name, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import Limits
from service.errors import RequestLimitError
from service.limits import check_source, check_tree, depth_guarded

RULES = Path(__file__).resolve().parents[2] / "rulesets" / "khoi3" / "2023.1.rules"


def test_source_over_the_size_limit_is_refused() -> None:
    """A source larger than max_source_bytes names that limit and the field."""
    with pytest.raises(RequestLimitError) as info:
        check_source("x" * 101, "source", Limits(max_source_bytes=100))
    assert ("max_source_bytes", "source") == (info.value.limit, info.value.field)


def test_size_counts_utf8_bytes() -> None:
    """Vietnamese letters count as their UTF-8 bytes."""
    with pytest.raises(RequestLimitError):
        check_source("đ" * 51, "source", Limits(max_source_bytes=100))
    check_source("đ" * 50, "source", Limits(max_source_bytes=100))


def test_deep_brackets_are_refused_before_parsing() -> None:
    """Brackets nested beyond the limit are refused; brackets inside strings and comments do not count."""
    limits = Limits(max_nesting_depth=10)
    with pytest.raises(RequestLimitError) as info:
        check_source("(" * 20 + "1" + ")" * 20, "source", limits)
    assert "max_nesting_depth" == info.value.limit
    check_source('"((((((((((((((((((((" # ((((((((((((((((((((((', "source", limits)


def test_tree_depth_is_counted_per_expression() -> None:
    """A parsed expression one level deeper than the limit is refused, naming its depth; at the limit it passes."""
    from dsl.parser import parse_expr

    limits = Limits(max_nesting_depth=4)
    check_tree(parse_expr("((1 + 2) * 3) - 4"), "source", limits)
    with pytest.raises(RequestLimitError) as info:
        check_tree(parse_expr("(((1 + 2) * 3) - 4) / 5"), "source", limits)
    assert ("max_nesting_depth", "source") == (info.value.limit, info.value.field)
    assert "expressions nest 5 deep" in str(info.value)


def test_reference_ruleset_is_within_default_limits() -> None:
    """The bundled ruleset passes every default limit."""
    from dsl.parser import parse

    text = RULES.read_text(encoding="utf-8")
    check_source(text, "source", Limits())
    check_tree(parse(text, str(RULES)).ruleset, "source", Limits())


def test_recursion_becomes_the_depth_limit() -> None:
    """Running out of stack inside the work is reported as max_nesting_depth."""

    def work() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    with pytest.raises(RequestLimitError) as info:
        depth_guarded("source", Limits(), work)
    assert "max_nesting_depth" == info.value.limit


def test_parser_stack_limit_diagnostic_becomes_the_depth_limit() -> None:
    """A source too deep for the parser (a `limit` diagnostic, not a RecursionError) is named max_nesting_depth."""
    from dsl.parser import parse

    text = RULES.read_text(encoding="utf-8").replace(
        "= 1.5 * reviews_held", "= " + "-" * 5000 + "reviews_held"
    )
    with pytest.raises(RequestLimitError) as info:
        depth_guarded("source", Limits(), lambda: parse(text, "deep.rules"))
    assert ("max_nesting_depth", "source") == (info.value.limit, info.value.field)
