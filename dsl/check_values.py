"""Literal values: a test's ``given`` pairs and an input's ``default``.

This module owns checking a literal against an input's type (SPEC §1.9) and
rewriting it for the evaluator: enum values become `EnumValue`, lists of
records keep their shape with each field checked. Reporting goes through the
checker's error callback so the diagnostics land with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from dsl import nodes as n
from dsl.check_scope import did_you_mean
from dsl.types import Type

#: ``error(message, span, code, hint)``
ErrorSink = Callable[[str, n.Span, str, "str | None"], None]


class ValueChecker:
    """Checks literal values against input types; ``enum_names`` names enums in messages."""

    def __init__(self, error: ErrorSink, enum_names: Mapping[tuple[str, ...], str]) -> None:
        self._sink = error
        self.enum_names = enum_names

    def error(self, message: str, span: n.Span, code: str, hint: str | None = None) -> None:
        self._sink(message, span, code, hint)

    def value(self, value: n.Expr, ty: Type, what: str) -> n.Expr:
        """Check a literal (a test's `given` value or an input's default) against ``ty``; return it rewritten."""
        kind = ty.kind
        if kind == "error":
            return value
        if kind == "number":
            if not isinstance(value, n.Number):
                self.error(f"{what} must be a number", value.span, "type")
            elif ty.integral and value.kind != "int":
                self.error(f"{what} is a whole number (int), but {value.text} is not", value.span, "type")
            return value
        simple = {"bool": n.BoolLit, "text": n.StringLit, "date": n.DateLit}
        if kind in simple:
            if not isinstance(value, simple[kind]):
                self.error(f"{what} must be {a_kind(kind)}", value.span, "type")
            return value
        if kind == "enum":
            if isinstance(value, n.Name | n.EnumValue):
                v = value.id if isinstance(value, n.Name) else value.value
                if v in ty.values:
                    return n.EnumValue(v, span=value.span)
                owner = self.enum_names.get(ty.values, "the enum")
                hint = did_you_mean(v, ty.values) or f"the values are: {', '.join(ty.values)}"
                self.error(f"unknown value '{v}' of {owner}", value.span, "unknown-value", hint)
                return value
            self.error(f"{what} must be one of: {', '.join(ty.values)}", value.span, "type")
            return value
        if kind == "list":
            if not isinstance(value, n.ListValue):
                self.error(f"{what} must be a list of records: [{{ field = value }}, …]", value.span, "type")
                return value
            return replace(value, items=tuple(self._record(item, ty, what) for item in value.items))
        return value  # pragma: no cover - inputs have no other types

    def _record(self, item: n.Expr, ty: Type, what: str) -> n.Expr:
        if not isinstance(item, n.RecordValue):
            self.error(f"each element of {what} must be a record {{ field = value }}", item.span, "type")
            return item
        fields = dict(ty.fields)
        out: list[tuple[str, n.Expr]] = []
        for name, v in item.fields:
            if name not in fields:
                self.error(
                    f"unknown field '{name}' in a record of {what}",
                    item.span,
                    "unknown-name",
                    did_you_mean(name, fields),
                )
                out.append((name, v))
                continue
            out.append((name, self.value(v, fields[name], f"field '{name}'")))
        given = {name for name, _ in item.fields}
        missing = [f for f in fields if f not in given]
        if missing:
            self.error(f"a record of {what} lacks {names_phrase(missing, 'field')}", item.span, "type")
        return replace(item, fields=tuple(out))


def a_kind(kind: str) -> str:
    """How a literal of ``kind`` is described: ``a number``, ``true or false``."""
    return {"number": "a number", "date": "a date", "bool": "true or false", "text": 'a text ("…")'}.get(
        kind, f"a {kind}"
    )


def names_phrase(names: list[str], word: str = "input") -> str:
    """``input 'a'`` or ``inputs 'a', 'b' and 'c'``."""
    quoted = [f"'{x}'" for x in names]
    if len(quoted) == 1:
        return f"{word} {quoted[0]}"
    return f"{word}s " + ", ".join(quoted[:-1]) + " and " + quoted[-1]
