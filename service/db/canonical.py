"""Canonical JSON: the one text form in which documents are stored, compared and hashed.

Submission inputs, evaluation requests and results are stored as this text.
Two documents with the same content give the same text whatever their key
order or Unicode composition (keys and strings are NFC-normalized, SPEC §1.1),
so "the same write again" can be recognized by comparing hashes. Numbers are
exact: a `Decimal` is written with its own digits and read back as a
`Decimal`; a binary float is refused, because its digits are not the ones the
user typed (SPEC §1.4).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dsl.errors import FieldViolation, InputError


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _render(value: Any, path: str, out: list[str], problems: list[FieldViolation]) -> None:
    # bool before int: True is an int to Python, but not to JSON.
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            problems.append(FieldViolation(path or "$", f"{value} is not a number a ruleset can use"))
            out.append("null")
        else:
            out.append(str(value))
    elif isinstance(value, float):
        problems.append(
            FieldViolation(path or "$", "binary floating-point numbers are not accepted; send a decimal")
        )
        out.append("null")
    elif isinstance(value, str):
        out.append(json.dumps(_nfc(value), ensure_ascii=False))
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        keys = sorted((_nfc(str(k)), v) for k, v in value.items())
        out.append("{")
        for i, (key, item) in enumerate(keys):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _render(item, _path(path, key), out, problems)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _render(item, _path(path, i), out, problems)
        out.append("]")
    else:
        problems.append(FieldViolation(path or "$", f"a {type(value).__name__} cannot be stored as JSON"))
        out.append("null")


def dumps(value: Any, what: str = "document") -> str:
    """The canonical JSON text of ``value``; `InputError` listing every unstorable value."""
    out: list[str] = []
    problems: list[FieldViolation] = []
    _render(value, "", out, problems)
    if problems:
        raise InputError(problems, what=what)
    return "".join(out)


def loads(text: str) -> Any:
    """Read canonical JSON back: decimals as `Decimal`, integers as `int`."""
    return json.loads(text, parse_float=Decimal)


def sha256_text(text: str) -> str:
    """SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
