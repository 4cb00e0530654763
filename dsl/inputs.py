"""Submissions → validated, typed input values (SPEC §1.1, §1.2, §1.4).

This module owns the boundary between what a client sends (JSON, a gRPC
``Value`` map, a Python dict) and what evaluation reads: every declared input
converted to its language value (numbers as exact `Decimal`, dates as
`datetime.date`, enum and text values NFC-normalized, lists of records as
lists of dicts), defaults filled in, constraints checked. It never stops at
the first problem: every violation is collected into one `InputError`, each
with a dotted field path (``discipline[2].form``).

A `Validator` is built once per compiled ruleset; per-type converters are
chosen then, so validating a submission is a loop over prepared closures.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl.errors import FieldViolation, InputError

#: A converter returns the converted value, or appends violations and returns `_BAD`.
Converter = Callable[[Any, str, list[FieldViolation]], Any]

_BAD: Any = object()
_MISSING: Any = object()
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Larger magnitudes cannot be evaluated exactly within 28 digits anyway.
_MAX_ABS = Decimal("1e24")
_MAX_INT = int(_MAX_ABS)


def load_json(text: str) -> Any:
    """Parse JSON with every number as an exact `Decimal` (never through ``float``)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def nfc(text: str) -> str:
    # ASCII text is already NFC; skipping the call keeps validation cheap for the common case.
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "text " + json.dumps(value, ensure_ascii=False)[:60]
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, float):
        return f"the binary floating-point number {value!r}"
    return str(value)


def _number(value: Any, path: str, errors: list[FieldViolation], integral: bool) -> Any:
    what = "a whole number" if integral else "a number"
    if type(value) is int:
        result = Decimal(value)
    elif type(value) is Decimal:
        result = value
    elif isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        result = Decimal(value.strip())
    elif isinstance(value, float):
        errors.append(
            FieldViolation(
                path,
                f'must be {what} given exactly (a JSON number or a text like "12.50"), '
                f"not {_describe(value)}",
            )
        )
        return _BAD
    else:
        errors.append(FieldViolation(path, f"must be {what}, got {_describe(value)}"))
        return _BAD
    if not result.is_finite() or result.copy_abs() > _MAX_ABS:
        errors.append(FieldViolation(path, f"must be a finite number of at most 24 digits, got {value}"))
        return _BAD
    if integral:
        # 12.0 and 12 are the same int; to_integral_value keeps one representation.
        whole = result.to_integral_value()
        if whole != result:
            errors.append(FieldViolation(path, f"must be a whole number, got {value}"))
            return _BAD
        return whole
    return result


def _int(value: Any, path: str, errors: list[FieldViolation]) -> Any:
    if type(value) is int and -_MAX_INT <= value <= _MAX_INT:  # integers given through the Python API
        return Decimal(value)
    return _number(value, path, errors, True)


def _decimal(value: Any, path: str, errors: list[FieldViolation]) -> Any:
    if type(value) is Decimal and value.is_finite() and value.copy_abs() <= _MAX_ABS:
        return value
    return _number(value, path, errors, False)


def _bool(value: Any, path: str, errors: list[FieldViolation]) -> Any:
    if value is True or value is False:
        return value
    errors.append(FieldViolation(path, f"must be true or false, got {_describe(value)}"))
    return _BAD


def _text(value: Any, path: str, errors: list[FieldViolation]) -> Any:
    if isinstance(value, str):
        return nfc(value)
    errors.append(FieldViolation(path, f"must be text, got {_describe(value)}"))
    return _BAD


def _date(value: Any, path: str, errors: list[FieldViolation]) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            errors.append(FieldViolation(path, f"'{value}' is not a valid date"))
            return _BAD
    errors.append(FieldViolation(path, f"must be a date written YYYY-MM-DD, got {_describe(value)}"))
    return _BAD


def _enum(values: tuple[str, ...]) -> Converter:
    allowed = frozenset(values)
    listing = ", ".join(values)

    def convert(value: Any, path: str, errors: list[FieldViolation]) -> Any:
        if isinstance(value, str):
            v = nfc(value)
            if v in allowed:
                return v
            close = difflib.get_close_matches(v, values, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            errors.append(FieldViolation(path, f"must be one of: {listing}; got '{v}'{hint}"))
            return _BAD
        errors.append(FieldViolation(path, f"must be one of: {listing}; got {_describe(value)}"))
        return _BAD

    return convert


def _list(fields: tuple[n.RecordField, ...]) -> Converter:
    converters = tuple((f.name, converter_for(f.type)) for f in fields)
    names = tuple(f.name for f in fields)
    declared = frozenset(names)

    def convert(value: Any, path: str, errors: list[FieldViolation]) -> Any:
        if not isinstance(value, (list, tuple)):
            errors.append(FieldViolation(path, f"must be a list, got {_describe(value)}"))
            return _BAD
        out: list[dict[str, Any]] = []
        bad = False
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                errors.append(
                    FieldViolation(
                        where, f"must be an object with the fields {', '.join(names)}, got {_describe(item)}"
                    )
                )
                bad = True
                continue
            record = {nfc(k) if isinstance(k, str) else k: v for k, v in item.items()}
            converted: dict[str, Any] = {}
            for name, conv in converters:
                raw = record.get(name, _MISSING)
                if raw is _MISSING:
                    errors.append(FieldViolation(f"{where}.{name}", "is missing"))
                    bad = True
                    continue
                v = conv(raw, f"{where}.{name}", errors)
                if v is _BAD:
                    bad = True
                converted[name] = v
            for k in record:
                if k not in declared:
                    errors.append(FieldViolation(f"{where}.{k}", _unknown(str(k), names, "field")))
                    bad = True
            out.append(converted)
        return _BAD if bad else out

    return convert


def _unknown(name: str, known: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what}{hint}"


def converter_for(t: n.TypeExpr) -> Converter:
    """The converter of one declared type."""
    if isinstance(t, n.EnumType):
        return _enum(t.values)
    if isinstance(t, n.ListType):
        return _list(t.fields)
    return {"int": _int, "decimal": _decimal, "bool": _bool, "text": _text, "date": _date}[t.name]


def literal_value(e: n.Expr) -> Any:
    """The plain value of a literal written in a ruleset (defaults, test ``given``)."""
    if isinstance(e, (n.Number, n.BoolLit, n.StringLit, n.DateLit)):
        return e.value
    if isinstance(e, (n.Name, n.EnumValue)):
        return e.id if isinstance(e, n.Name) else e.value
    if isinstance(e, n.ListValue):
        return [literal_value(i) for i in e.items]
    if isinstance(e, n.RecordValue):
        return {k: literal_value(v) for k, v in e.fields}
    if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Number):
        return -e.operand.value
    raise ValueError(f"not a literal: {type(e).__name__}")


Bound = Callable[[Mapping[str, Any]], Any]


class Validator:
    """Validates submissions for one ruleset: types, defaults, constraints, unknown fields."""

    def __init__(self, inputs: Sequence[n.Input], bound: Callable[[n.Expr], Bound]) -> None:
        """``bound`` turns a constraint's bound expression into a function of validated inputs."""
        self.names = tuple(i.name for i in inputs)
        self._declared = frozenset(self.names)
        specs: list[tuple[str, Converter, Any]] = []
        defaults_errors: list[FieldViolation] = []
        for i in inputs:
            conv = converter_for(i.type)
            default = _MISSING
            if i.default is not None:
                default = conv(literal_value(i.default), f"{i.name} (default)", defaults_errors)
            specs.append((i.name, conv, default))
        if defaults_errors:
            raise InputError(defaults_errors, what="ruleset default")
        self._specs = tuple(specs)
        checks: list[tuple[str, str, Bound, Bound | None, tuple[str, ...]]] = []
        for i in inputs:
            c = i.constraint
            if c is None:
                continue
            texts = (_bound_text(c.low),) + ((_bound_text(c.high),) if c.high is not None else ())
            checks.append((i.name, c.op, bound(c.low), bound(c.high) if c.high is not None else None, texts))
        self._checks = tuple(checks)

    def validate(self, raw: Any, *, unit: str | None = None) -> dict[str, Any]:
        """Every declared input, converted; raises `InputError` listing every violation."""
        errors: list[FieldViolation] = []
        if not isinstance(raw, Mapping):
            raise InputError(
                [FieldViolation("inputs", f"must be an object, got {_describe(raw)}")], _what(unit)
            )
        if not all(type(k) is str and k.isascii() for k in raw):
            raw = {nfc(k) if isinstance(k, str) else k: v for k, v in raw.items()}
        out: dict[str, Any] = {}
        bad: set[str] = set()
        present = 0
        for name, conv, default in self._specs:
            value = raw.get(name, _MISSING)
            if value is not _MISSING:
                present += 1
            if value is _MISSING or value is None:
                if default is not _MISSING:
                    out[name] = default
                    continue
                errors.append(
                    FieldViolation(name, "is required" if value is _MISSING else "must not be null")
                )
                bad.add(name)
                continue
            v = conv(value, name, errors)
            if v is _BAD:
                bad.add(name)
            out[name] = v
        if len(raw) != present:
            for k in raw:
                if k not in self._declared:
                    errors.append(FieldViolation(str(k), _unknown(str(k), self.names, "input")))
        for name, op, low, high, texts in self._checks:
            if name in bad:
                continue
            errors.extend(self._check(name, op, low, high, texts, out))
        if errors:
            raise InputError(errors, _what(unit))
        return out

    @staticmethod
    def _check(
        name: str,
        op: str,
        low: Bound,
        high: Bound | None,
        texts: tuple[str, ...],
        values: Mapping[str, Any],
    ) -> list[FieldViolation]:
        value = values[name]
        try:
            lo = low(values)
            hi = high(values) if high is not None else None
        except _Unavailable:
            return []  # a bound names an input that is itself invalid: reported there
        if op == "in":
            if lo <= value <= hi:
                return []
            return [
                FieldViolation(
                    name, f"must be from {_show(texts[0], lo)} to {_show(texts[1], hi)}, got {value}"
                )
            ]
        ok = {">=": value >= lo, "<=": value <= lo, ">": value > lo, "<": value < lo}[op]
        if ok:
            return []
        return [FieldViolation(name, f"must be {op} {_show(texts[0], lo)}, got {value}")]


class _Unavailable(Exception):
    """A constraint bound reads an input that failed validation."""


def _what(unit: str | None) -> str:
    return f"submission for unit '{unit}'" if unit else "submission"


def _show(text: str, value: Any) -> str:
    shown = str(value)
    return shown if text == shown else f"{text} ({shown})"


def _bound_text(e: n.Expr) -> str:
    if isinstance(e, n.Number):
        return e.text
    if isinstance(e, n.Name):
        return e.id
    return "the bound"


def simple_bound(e: n.Expr, general: Callable[[n.Expr], Bound]) -> Bound:
    """Numbers and input names (the usual bounds) without the interpreter; others through it."""
    if isinstance(e, n.Number):
        value = e.value
        return lambda _values: value
    if isinstance(e, n.Name):
        name = e.id

        def lookup(values: Mapping[str, Any]) -> Any:
            v = values.get(name, _BAD)
            if v is _BAD:
                raise _Unavailable(name)
            return v

        return lookup
    inner = general(e)

    def guarded(values: Mapping[str, Any]) -> Any:
        if any(v is _BAD for v in values.values()):
            raise _Unavailable("")
        return inner(values)

    return guarded


def fast_date(value: Any) -> Any:
    """A date for the compiled validator's fast path, or None to defer to `Validator`."""
    if type(value) is dt.date:
        return value
    if type(value) is str and _DATE_TEXT.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def fast_list(converter: Converter) -> Callable[[Any], Any]:
    """A list converter for the fast path: None (defer to `Validator`) on any problem."""

    def convert(value: Any) -> Any:
        errors: list[FieldViolation] = []
        out = converter(value, "", errors)
        return None if errors or out is _BAD else out

    return convert


#: The largest magnitude a decimal input may have (the fast path checks it too).
MAX_ABS = _MAX_ABS
MISSING = _MISSING
