"""The Score hot path: a plan built once per compiled ruleset, for reading inputs and writing results.

`service.convert` converts any request and any result generically. Score
answers one submission at a time, thousands of times a second, always with
the same ruleset shapes, so this module prepares per compiled ruleset what
does not change between calls:

* **inputs** — each declared input's expected `Value` kind, so a value is
  read with one accessor (``v.integer``) instead of asking the message which
  kind it holds. A non-default accessor result proves the kind; anything
  else (a zero, a list, a wrong kind, a malformed value, an undeclared or
  non-ASCII name) goes through `service.convert`'s reader, which words every
  violation — the answer, and every error with its field path and order,
  stay exactly those of `service.convert.inputs_to_python`.
* **results** — the encoded protobuf bytes of every static part of a
  `UnitResult` (criterion names and sections, group names, title names,
  labels and notes, the ruleset reference), so a response is the dynamic
  decimals spliced between them and parsed once by upb. The bytes equal
  what `service.convert.unit_result_pb` builds field by field
  (tests/service/test_score_plan.py checks that on random results).
  Explanations take the generic path.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.parser import normalize
from dsl.results import TitleResult, UnitResult
from service.config import Limits
from service.convert import (
    _DATE,
    _DECIMAL,
    _STATUS,
    MAX_DECIMAL_CHARS,
    _fmt,
    _Reader,
    criterion_sections,
    inputs_to_python,
    ruleset_pb,
)
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

# Expected Value kinds of declared inputs.
_INTEGER, _DECIMAL_KIND, _BOOLEAN, _TEXT, _DATE_KIND, _LIST = range(6)
_KIND_OF_TYPE = {
    "int": _INTEGER,
    "decimal": _DECIMAL_KIND,
    "bool": _BOOLEAN,
    "text": _TEXT,
    "date": _DATE_KIND,
}


def _expected_kind(t: n.TypeExpr) -> int | None:
    if isinstance(t, n.SimpleType):
        return _KIND_OF_TYPE.get(t.name)
    if isinstance(t, n.EnumType):
        return _TEXT
    return _LIST  # only an empty list is read here; records go to the generic reader


# ------------------------------------------------------------------ protobuf encoding
#
# Encoded messages are built as `str` whose characters are bytes (latin-1): UTF-8
# texts are encoded once when the plan is built, the dynamic decimals are ASCII, and
# one `.encode("latin-1")` at the end gives the wire bytes without a conversion per field.

_SHORT = tuple(chr(i) for i in range(128))


def _varint(value: int) -> str:
    """A non-negative varint (lengths), as latin-1 text."""
    if value < 128:
        return _SHORT[value]
    out = []
    while value >= 128:
        out.append(chr((value & 0x7F) | 0x80))
        value >>= 7
    out.append(chr(value))
    return "".join(out)


def _utf8(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _string_field(number: int, text: str) -> str:
    """Field ``number`` holding ``text``; empty when ``text`` is (proto3 leaves defaults out)."""
    if not text:
        return ""
    data = _utf8(text)
    return _SHORT[number << 3 | 2] + _varint(len(data)) + data


def _message_field(number: int, body: str) -> str:
    return _SHORT[number << 3 | 2] + _varint(len(body)) + body


# Tags (field number, wire type 2) of the length-delimited fields written here (evaluation.proto).
_SCORE, _GROUP, _CRITERION, _BONUS, _PENALTY = "\x12", "\x2a", "\x32", "\x3a", "\x42"  # UnitResult
_VALUE_2, _POINTS_3 = "\x12", "\x1a"  # GroupResult.value, CriterionResult.points
_RESULT_2 = "\x12"  # ScoreResponse.result


# ------------------------------------------------------------------ the plan


class ScorePlan:
    """What Score needs of one compiled ruleset, computed once and shared by threads.

    Only its bounded memos of encodings change after construction, one complete
    entry at a time (a dict assignment is atomic), so no lock is needed.
    """

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.places = compiled.places
        # Inputs: declared name → expected Value kind. Only names equal to their NFC form
        # (the parser's declarations are) may skip `normalize`.
        self.kinds: dict[str, int | None] = {
            i.name: _expected_kind(i.type) for i in compiled.plan.inputs if normalize(i.name) == i.name
        }
        # Results: the ruleset reference (ScoreResponse field 1) and each part of UnitResult
        # that only depends on the ruleset.
        self.ruleset_prefix = _latin1(ev.ScoreResponse(ruleset=ruleset_pb(compiled.ref)).SerializeToString())
        self.criteria = tuple(
            (name, _Slot(self, _CRITERION, _string_field(1, name) + _string_field(2, section) + _POINTS_3))
            for name, section in criterion_sections(compiled)
        )
        self.groups = {
            g.name: _Slot(self, _GROUP, _string_field(1, g.name) + _VALUE_2) for g in compiled.plan.groups
        }
        self.score, self.bonus, self.penalty = (_Slot(self, "", tag) for tag in (_SCORE, _BONUS, _PENALTY))
        self.levels = {lv.name: _string_field(3, lv.name) for lv in compiled.plan.levels}
        self.units: dict[str, str] = {}
        # Each title's encoded message per (status, label, note): a few fixed combinations per title.
        self.titles: dict[str, dict[tuple[str, str, str | None], str]] = {
            tp.title.name: {} for tp in compiled.plan.titles
        }

    # ------------------------------------------------------------ inputs
    def read_inputs(
        self, values: Mapping[str, vals.Value], limits: Limits, prefix: str = "inputs."
    ) -> dict[str, Any]:
        """`service.convert.inputs_to_python` with the declared kinds read first; same answers and errors."""
        kinds = self.kinds
        out: dict[str, Any] = {}
        reader: _Reader | None = None
        # Sorted like the generic reader, so that values and violations come in the same order.
        for name in sorted(values):
            v = values[name]
            kind = kinds.get(name)
            if kind == _INTEGER:
                x = v.integer
                if x or v.HasField("integer"):  # a non-zero value proves the kind
                    out[name] = x
                    continue
            elif kind == _TEXT:
                s = v.text
                if s and s.isascii():  # ASCII is its own NFC form (and has no byte-order mark)
                    out[name] = s
                    continue
            elif kind == _BOOLEAN:
                if v.boolean or v.HasField("boolean"):
                    out[name] = v.boolean
                    continue
            elif kind == _LIST:
                if v.HasField("list") and not v.list.values:
                    out[name] = []
                    continue
            elif kind == _DATE_KIND:
                s = v.date
                if s:
                    if _DATE.fullmatch(s) and _is_calendar_date(s):
                        out[name] = s
                        continue
                else:
                    s = v.text  # dates also travel as text (JSON has none); the engine reads them
                    if s and s.isascii():
                        out[name] = s
                        continue
            elif kind == _DECIMAL_KIND:
                s = v.decimal.strip()
                if s and len(s) <= MAX_DECIMAL_CHARS and _DECIMAL.fullmatch(s):
                    out[name] = Decimal(s)
                    continue
            # Anything else, right or wrong, is read (and its violations worded) generically.
            if name not in kinds and not name.isascii():
                # Not a declared name: normalizing it could make it collide with another one.
                return inputs_to_python(values, limits, prefix)
            if reader is None:
                reader = _Reader(limits)
            out[name] = reader.value(v, prefix + name)
        if reader is not None:
            reader.check("submission")
        return out

    # ------------------------------------------------------------ results
    def response(self, r: UnitResult) -> ev.ScoreResponse:
        """The ScoreResponse of a result without explanation: `unit_result_pb` + `ruleset_pb`, encoded."""
        return ev.ScoreResponse.FromString(self.response_bytes(r))

    def response_bytes(self, r: UnitResult) -> bytes:
        body = self.unit_result_text(r)
        return (self.ruleset_prefix + _RESULT_2 + _varint(len(body)) + body).encode("latin-1")

    def unit_result_text(self, r: UnitResult) -> str:
        """`unit_result_pb(r, explain=False, sections=criterion_sections(compiled))`, encoded as latin-1 text."""
        parts: list[str] = []
        add = parts.append
        unit = r.unit
        if unit:
            encoded = self.units.get(unit)
            if encoded is None:
                encoded = _string_field(1, unit)
                if len(unit) <= _UNIT_MEMO_LENGTH and len(self.units) < _UNITS_MEMO_SIZE:
                    self.units[unit] = encoded
            add(encoded)
        # Slot.encode inlined for its common case (an encoding seen before): one str, one lookup.
        slot = self.score
        encoded = slot.memo.get(str(r.score))
        add(encoded if encoded is not None else slot.encode(r.score))
        if r.level:
            level = self.levels.get(r.level)
            add(level if level is not None else _string_field(3, r.level))
        if r.rank:
            add("\x20" + _int32(r.rank))  # UnitResult.rank, a varint
        groups = self.groups
        for name, value in r.groups.items():
            group = groups.get(name)
            if group is None:  # not a group of the plan's: encoded, not remembered
                group = _Slot(self, _GROUP, _string_field(1, name) + _VALUE_2)
            encoded = group.memo.get(str(value))
            add(encoded if encoded is not None else group.encode(value))
        points, values = r.criteria, r.values
        for name, slot in self.criteria:
            got: Any = points.get(name)
            if got is None:
                got = values.get(name)  # bonus and penalty criteria: points in the unit's scope
                if not isinstance(got, Decimal):
                    continue
            encoded = slot.memo.get(str(got))
            add(encoded if encoded is not None else slot.encode(got))
        slot = self.bonus
        encoded = slot.memo.get(str(r.bonus))
        add(encoded if encoded is not None else slot.encode(r.bonus))
        slot = self.penalty
        encoded = slot.memo.get(str(r.penalty))
        add(encoded if encoded is not None else slot.encode(r.penalty))
        titles = self.titles
        for t in r.titles.values():
            by_status = titles.get(t.name)
            key = (t.status, t.label, t.note)
            encoded = None if by_status is None else by_status.get(key)
            if encoded is None:
                encoded = _title(t)
                if by_status is not None and len(by_status) < _MEMO_SIZE:
                    by_status[key] = encoded
            add(encoded)
        return "".join(parts)


#: Most encodings one slot remembers: criterion points take a handful of values in practice.
_MEMO_SIZE = 64
#: Most unit names a plan remembers encoded (a bloc has tens of units), and their longest:
#: names come from clients, so what is remembered stays small.
_UNITS_MEMO_SIZE = 1024
_UNIT_MEMO_LENGTH = 100


class _Slot:
    """One decimal field of a UnitResult (the score, a group's value, a criterion's points) and its encodings.

    ``encode`` gives the field as it goes on the wire — ``outer`` tag, length,
    the static ``head`` (names, the value's tag) and the decimal formatted with
    the ruleset's places. Encodings are remembered by ``str(value)``, which
    identifies a Decimal exactly (digits, exponent, sign), so a value seen
    before costs one ``str`` and one lookup.
    """

    __slots__ = ("head", "memo", "outer", "places")

    def __init__(self, plan: ScorePlan, outer: str, head: str) -> None:
        self.places = plan.places
        self.outer, self.head = outer, head
        self.memo: dict[str, str] = {}

    def encode(self, value: Decimal) -> str:
        key = str(value)
        encoded = self.memo.get(key)
        if encoded is None:
            text = _fmt(value, self.places)
            body = self.head + _varint(len(text)) + text
            encoded = self.outer + _varint(len(body)) + body if self.outer else body
            if len(self.memo) < _MEMO_SIZE:
                self.memo[key] = encoded
        return encoded


def _is_calendar_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


def _int32(value: int) -> str:
    # int32 varint: a negative value is sign-extended to 64 bits (ten bytes).
    return _varint(value & 0xFFFFFFFFFFFFFFFF)


def _title(t: TitleResult) -> str:
    """A TitleResult message without requirements (`service.convert._title_pb`), encoded."""
    status = _STATUS.get(t.status, ev.TITLE_STATUS_UNSPECIFIED)
    body = _string_field(1, t.name) + _string_field(2, t.label)
    if status:
        body += "\x18" + _varint(status)  # TitleResult.status, a varint
    if t.note:
        body += _string_field(5, t.note)
    return _message_field(9, body)


score_plan: Callable[[CompiledRuleset], ScorePlan] = functools.lru_cache(maxsize=256)(ScorePlan)
"""The plan of a compiled ruleset, built on first use (compiled rulesets compare by identity)."""
