"""The ruleset AST: frozen dataclasses, each carrying its source span.

This module owns the shape of a parsed ruleset and nothing else. The parser
(`dsl.parser`) is the only producer of these nodes from text; every later
stage (checker, compiler, interpreter, formatter, diff) consumes them. No Lark
object ever appears here.

Spans are excluded from equality (``compare=False``) so that two parses of the
same ruleset laid out differently compare equal — the formatter's round-trip
property relies on it.

After checking (`dsl.checker`), two node kinds appear that the parser never
produces: `EnumValue` (a bare enum or level value in a value position, SPEC
§1.3) and `FieldRef` (a record field inside `where` / `of`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Span:
    """A region of source text; lines and columns count from 1, columns in characters.

    ``end_column`` is exclusive: a one-character token at column 5 has
    ``column=5, end_column=6``.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    file: str = "<string>"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span(0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal. ``kind`` is "int", "decimal" or "percent"; ``value`` is exact
    (``70%`` has value ``Decimal("0.70")``); ``text`` is the literal as written."""

    value: Decimal
    kind: str
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DateLit:
    value: _dt.date
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class StringLit:
    """A string literal; ``value`` is unescaped and NFC-normalized."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a declared name (input, let, criterion, group, title, …)."""

    id: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attribute:
    """``obj.attr`` — only ``current.leader``/``current.deputy``/``elected.…`` in rotation."""

    obj: str
    attr: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumValue:
    """Produced by the checker: a bare enum/level value resolved by context (SPEC §1.3)."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FieldRef:
    """Produced by the checker: a record field referenced inside ``where`` / ``of``."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``not x``; ``op`` is "-" or "not"."""

    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """``op`` is one of + - * / == != < <= > >= and or."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InList:
    """``operand in [options…]``."""

    operand: Expr
    options: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IfExpr:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableRow:
    """One ``when … then …`` row. ``op`` is a comparison operator (``>=`` …),
    ``==`` for a bare value (``when excellent``) or ``in`` for ``when in [a, b]``;
    ``values`` has one element except for ``in``."""

    op: str
    values: tuple[Expr, ...]
    result: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Table:
    """``table SUBJECT { rows… [else DEFAULT] }`` — the first matching row wins."""

    subject: Expr
    rows: tuple[TableRow, ...]
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: min, max, clamp, round, floor, ceil, abs, bloc_max, bloc_min,
    bloc_sum, bloc_avg, bloc_count, and in rotation rank, score, level, awarded, held."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListAgg:
    """``count(L [where C])``, ``any(L where C)``, ``all(L where C)``,
    ``sum(L of E [where C])``. ``func`` is count, any, all or sum."""

    func: str
    source: Expr
    of: Expr | None
    where: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListValue:
    """A list literal — only in test ``given`` values."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RecordValue:
    """A record literal ``{ field = VALUE … }`` — only in test ``given`` values."""

    fields: tuple[tuple[str, Expr], ...]
    span: Span = _span()


Expr: TypeAlias = (
    Number
    | DateLit
    | BoolLit
    | StringLit
    | Name
    | Attribute
    | EnumValue
    | FieldRef
    | Unary
    | Binary
    | InList
    | IfExpr
    | Table
    | Call
    | ListAgg
    | ListValue
    | RecordValue
)


# ---------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class SimpleType:
    """``int``, ``decimal``, ``bool``, ``text`` or ``date``."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EnumType:
    values: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RecordField:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListType:
    """``list of { field: TYPE, … }``."""

    fields: tuple[RecordField, ...]
    span: Span = _span()


TypeExpr: TypeAlias = SimpleType | EnumType | ListType


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Constraint:
    """``op`` is >=, <=, >, < (``low`` holds the bound, ``high`` is None) or ``in``
    (``in LOW..HIGH``, inclusive)."""

    op: str
    low: Expr
    high: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Description:
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Effective:
    start: _dt.date
    end: _dt.date
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rounding:
    """``rounding PLACES [half_up|half_even|down]``; the default is 2 half_up."""

    places: int
    mode: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Input:
    """``better`` is "more" or "less" (``more is better``), None when not declared."""

    name: str
    type: TypeExpr
    constraint: Constraint | None
    default: Expr | None
    label: str | None
    better: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    label: str
    max: Number | None
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    label: str
    max: Number
    criteria: tuple[Criterion, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Bonus:
    label: str
    max: Number
    criteria: tuple[Criterion, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Penalty:
    label: str
    max: Number | None
    criteria: tuple[Criterion, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ScoreDef:
    """``score = EXPR`` — replaces the default max(0, Σ groups + bonus − penalty)."""

    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Level:
    """A classification level; ``when`` is None for ``otherwise``."""

    name: str
    label: str
    when: Expr | None
    unless: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Classify:
    levels: tuple[Level, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SortKey:
    """A ranking key; the direction defaults to descending (best first) when omitted."""

    expr: Expr
    descending: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ranking:
    keys: tuple[SortKey, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Require:
    expr: Expr
    reason: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Quota:
    """``quota N`` (``count``) or ``quota P%`` (``percent`` as a fraction, 5% = 0.05)."""

    count: int | None
    percent: Decimal | None
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Title:
    name: str
    label: str
    requires: tuple[Require, ...]
    quota: Quota | None
    rank_by: tuple[SortKey, ...] | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RefPick:
    """``current.leader`` / ``current.deputy`` / ``elected.leader`` / ``elected.deputy``."""

    scope: str
    role: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class NextAfterPick:
    """``next after ANCHOR [where C]`` — cyclic in rotation order."""

    anchor: Expr
    where: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FirstOfPick:
    """``first of ranking|members [where C]``."""

    source: str
    where: Expr | None
    span: Span = _span()


Pick: TypeAlias = RefPick | NextAfterPick | FirstOfPick


@dataclass(frozen=True, slots=True)
class RotationRule:
    """``leader = PICK else PICK …`` (``role`` is "leader" or "deputy")."""

    role: str
    picks: tuple[Pick, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rotation:
    rules: tuple[RotationRule, ...]
    span: Span = _span()

    def rule(self, role: str) -> RotationRule | None:
        for r in self.rules:
            if r.role == role:
                return r
        return None


@dataclass(frozen=True, slots=True)
class Remove:
    """``remove KIND NAME`` in a ruleset that ``extends`` another (SPEC §1.8)."""

    kind: str
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Given:
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expect:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Test:
    """A ``test`` block (SPEC §1.9); ``target`` is (name, version) from ``for``, or None."""

    label: str
    target: tuple[str, str] | None
    given: tuple[Given, ...]
    expects: tuple[Expect, ...]
    span: Span = _span()


Item: TypeAlias = (
    Description
    | Effective
    | Rounding
    | Input
    | Let
    | Group
    | Bonus
    | Penalty
    | ScoreDef
    | Classify
    | Ranking
    | Title
    | Rotation
    | Remove
    | Test
)


@dataclass(frozen=True, slots=True)
class ParentRef:
    name: str
    version: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A ruleset; ``items`` keeps every declaration in source order."""

    name: str
    version: str
    parent: ParentRef | None
    items: tuple[Item, ...]
    span: Span = _span()

    def of_kind(self, kind: type) -> list:  # type: ignore[type-arg]
        """Every item of one node class, in source order."""
        return [i for i in self.items if isinstance(i, kind)]

    def first(self, kind: type):  # type: ignore[no-untyped-def]
        """The first item of one node class, or None."""
        for i in self.items:
            if isinstance(i, kind):
                return i
        return None

    @property
    def rounding(self) -> Rounding:
        r = self.first(Rounding)
        return r if r is not None else Rounding(2, "half_up")

    @property
    def inputs(self) -> list[Input]:
        return self.of_kind(Input)

    @property
    def groups(self) -> list[Group]:
        return self.of_kind(Group)

    @property
    def titles(self) -> list[Title]:
        return self.of_kind(Title)

    @property
    def tests(self) -> list[Test]:
        return self.of_kind(Test)


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment, kept for the formatter; ``text`` includes the ``#``."""

    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A parsed file: at most one ruleset, test blocks written after it, and comments."""

    path: str
    ruleset: Ruleset | None
    tests: tuple[Test, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False, repr=False)
