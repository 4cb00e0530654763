"""dsl.check_values: literal values of test givens and input defaults."""

from __future__ import annotations

from decimal import Decimal

from dsl import nodes as n
from dsl import types as t
from dsl.check_values import ValueChecker, names_phrase


def collect() -> tuple[ValueChecker, list[str]]:
    errors: list[str] = []
    checker = ValueChecker(lambda message, span, code, hint: errors.append(message), {("a", "b"): "rating"})
    return checker, errors


def test_enum_value_is_rewritten() -> None:
    """A bare enum value becomes an EnumValue."""
    checker, errors = collect()
    assert n.EnumValue("a") == checker.value(n.Name("a"), t.enum(("a", "b")), "'rating'")
    assert [] == errors


def test_wrong_literals_are_reported() -> None:
    """A decimal for an int, a number for a bool and an unknown enum value are errors."""
    checker, errors = collect()
    checker.value(n.Number(Decimal("1.5"), "decimal", "1.5"), t.INT, "'x'")
    checker.value(n.Number(Decimal(1), "int", "1"), t.BOOL, "'flag'")
    checker.value(n.Name("c"), t.enum(("a", "b")), "'rating'")
    assert [
        "'x' is a whole number (int), but 1.5 is not",
        "'flag' must be true or false",
        "unknown value 'c' of rating",
    ] == errors


def test_records_in_lists() -> None:
    """Records are checked field by field; enum fields are rewritten; missing fields are named."""
    checker, errors = collect()
    ty = t.list_of((("kind", t.enum(("a", "b"))), ("n", t.INT)))
    value = n.ListValue((n.RecordValue((("kind", n.Name("b")), ("n", n.Number(Decimal(2), "int", "2")))),))
    out = checker.value(value, ty, "'items'")
    assert (
        n.ListValue((n.RecordValue((("kind", n.EnumValue("b")), ("n", n.Number(Decimal(2), "int", "2")))),))
        == out
    )
    checker.value(n.ListValue((n.RecordValue((("kind", n.Name("a")),)),)), ty, "'items'")
    assert ["a record of 'items' lacks field 'n'"] == errors


def test_names_phrase() -> None:
    """One name or a list joined with `and`."""
    assert "input 'a'" == names_phrase(["a"])
    assert "fields 'a', 'b' and 'c'" == names_phrase(["a", "b", "c"], "field")
