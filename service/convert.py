"""Conversions between the thidua.v1 messages and the engine's Python data.

Inbound, a request's typed `Value`s become exactly what a JSON submission
becomes in the CLI (decimals as `Decimal`, whole numbers as `int`, dates as
ISO text, lists and records as lists and dicts), so that the gRPC and the
command-line paths feed the engine the same data and get the same answers.
Every problem is collected with its field path and raised at once as an
`InputError`. Outbound, the result records of `dsl.results` become messages;
decimals are strings with the ruleset's places, never floating point.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dsl.errors import Diagnostic, FieldViolation, InputError, render
from dsl.parser import normalize
from dsl.results import (
    BlocResult,
    RoleDecision,
    RotationResult,
    TitleAward,
    TitleResult,
    UnitResult,
    value_to_json,
)
from service.config import Limits
from service.errors import RequestLimitError, public_text
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Longest decimal string accepted (sign, digits, point): far beyond the engine's 28 significant digits.
MAX_DECIMAL_CHARS = 100

_STATUS = {
    "eligible": ev.TITLE_STATUS_ELIGIBLE,
    "not_eligible": ev.TITLE_STATUS_NOT_ELIGIBLE,
    "undecided": ev.TITLE_STATUS_UNDECIDED,
    "awarded": ev.TITLE_STATUS_AWARDED,
    "over_quota": ev.TITLE_STATUS_OVER_QUOTA,
    "tied": ev.TITLE_STATUS_TIED,
}
STATUS_NAMES = {number: name for name, number in _STATUS.items()}


# ------------------------------------------------------------------ inbound


class _Reader:
    """Collects every violation of one request while converting it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.violations: list[FieldViolation] = []

    def value(self, v: vals.Value, path: str) -> Any:
        # ListFields: one call gives the kind and its value (cheaper than WhichOneof + getattr).
        present = v.ListFields()
        if not present:
            self.violations.append(
                FieldViolation(
                    path, "no value: set one of decimal, integer, boolean, text, date, list, record"
                )
            )
            return None
        descriptor, raw = present[0]
        kind = descriptor.name
        if kind == "integer":
            return int(raw)
        if kind == "decimal":
            text = raw.strip()
            if len(text) > MAX_DECIMAL_CHARS or not _DECIMAL.fullmatch(text):
                self.violations.append(
                    FieldViolation(
                        path,
                        f"'{text[:MAX_DECIMAL_CHARS]}' is not a decimal number (digits, optional sign and fraction, e.g. \"12.50\")",
                    )
                )
                return None
            try:
                return Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
                self.violations.append(FieldViolation(path, f"'{text}' is not a decimal number"))
                return None
        if kind == "boolean":
            return bool(raw)
        if kind == "text":
            return raw if raw.isascii() else normalize(raw)  # ASCII is its own NFC form
        if kind == "date":
            if not _DATE.fullmatch(v.date):
                self.violations.append(FieldViolation(path, f"'{v.date[:40]}' is not a date (YYYY-MM-DD)"))
                return None
            try:
                dt.date.fromisoformat(v.date)
            except ValueError as exc:
                self.violations.append(FieldViolation(path, f"'{v.date}' is not a calendar date ({exc})"))
                return None
            return v.date
        if kind == "list":
            items = v.list.values
            if len(items) > self.limits.max_list_length:
                raise RequestLimitError(
                    "max_list_length",
                    path,
                    f"{len(items)} items, more than the {self.limits.max_list_length} allowed",
                )
            return [self.value(item, f"{path}[{i}]") for i, item in enumerate(items)]
        # record
        return self.fields(v.record.fields, path + ".")

    def fields(self, values: Mapping[str, vals.Value], prefix: str) -> dict[str, Any]:
        # Sorted: a protobuf map has no order, and error lists must be deterministic.
        out: dict[str, Any] = {}
        for name, value in sorted(values.items()):
            key = name if name.isascii() else normalize(name)
            if key in out:
                # The same name typed composed and decomposed (SPEC §1.1): refuse rather than keep one silently.
                self.violations.append(
                    FieldViolation(prefix + name, f"'{key}' is given twice (once decomposed)")
                )
                continue
            out[key] = self.value(value, prefix + name)
        return out

    def check(self, what: str) -> None:
        if self.violations:
            raise InputError(self.violations, what=what)


def inputs_to_python(
    values: Mapping[str, vals.Value], limits: Limits, prefix: str = "inputs."
) -> dict[str, Any]:
    """A submission's inputs as JSON-like Python data; every malformed value at once as `InputError`."""
    reader = _Reader(limits)
    out = reader.fields(values, prefix)
    reader.check("submission")
    return out


def case_to_mapping(case: ev.BlocCase, limits: Limits, prefix: str = "bloc_case.") -> dict[str, Any]:
    """A `BlocCase` as the CASE mapping of SPEC §2 (what `dsl.case.parse_case` reads).

    Empty strings mean "absent" (proto3 has no null): an empty current/elected
    holder is left out. Too many units is a `RequestLimitError`.
    """
    n_units = max(len(case.members), len(case.submissions))
    if n_units > limits.max_units_per_bloc:
        field = "members" if len(case.members) >= len(case.submissions) else "submissions"
        raise RequestLimitError(
            "max_units_per_bloc",
            prefix + field,
            f"{n_units} units, more than the {limits.max_units_per_bloc} allowed in one bloc",
        )
    reader = _Reader(limits)
    out: dict[str, Any] = {"members": [normalize(m) for m in case.members]}
    if case.bloc:
        out["bloc"] = case.bloc
    if case.period:
        out["period"] = case.period
    for role in ("current", "elected"):
        holders: ev.Holders = getattr(case, role)
        out[role] = {k: normalize(getattr(holders, k)) for k in ("leader", "deputy") if getattr(holders, k)}
    out["history"] = [
        {
            "period": h.period,
            **{k: normalize(getattr(h, k)) for k in ("leader", "deputy") if getattr(h, k)},
        }
        for h in case.history
    ]
    out["submissions"] = [
        {"unit": normalize(s.unit), "inputs": reader.fields(s.inputs, f"{prefix}submissions[{i}].inputs.")}
        for i, s in enumerate(case.submissions)
    ]
    reader.check("case")
    return out


# ------------------------------------------------------------------ outbound


def to_value(value: Any) -> vals.Value:
    """An engine value as a typed `Value` (decimals exact, as text)."""
    if isinstance(value, bool):
        return vals.Value(boolean=value)
    if isinstance(value, Decimal):
        # Plain positional notation, as the API promises (never "1E-7").
        return vals.Value(decimal=format(value, "f"))
    if isinstance(value, int):
        return vals.Value(integer=value)
    if isinstance(value, dt.date):
        return vals.Value(date=value.isoformat())
    if isinstance(value, str):
        return vals.Value(text=value)
    if isinstance(value, (list, tuple)):
        return vals.Value(list=vals.ValueList(values=[to_value(v) for v in value]))
    if isinstance(value, Mapping):
        return vals.Value(record=vals.Record(fields={str(k): to_value(v) for k, v in value.items()}))
    if value is None:
        return vals.Value()
    return vals.Value(text=str(value))


def ruleset_pb(ref: Any) -> vals.ResolvedRuleset:
    """A `dsl.results.RulesetRef` (or anything with name/version/sha256) as a message."""
    return vals.ResolvedRuleset(name=ref.name, version=ref.version, sha256=ref.sha256)


def _title_pb(t: TitleResult, with_requirements: bool) -> ev.TitleResult:
    msg = ev.TitleResult(
        name=t.name, label=t.label, status=_STATUS.get(t.status, ev.TITLE_STATUS_UNSPECIFIED)
    )
    if t.note:
        msg.note = t.note
    if with_requirements:
        for r in t.requires:
            req = msg.requirements.add(text=r.text, reason=r.reason or "", line=r.line)
            if r.passed is not None:
                req.passed = r.passed
            for name, value in r.values.items():
                req.values[name].CopyFrom(to_value(value))
    return msg


@functools.lru_cache(maxsize=256)
def criterion_sections(compiled: CompiledRuleset) -> tuple[tuple[str, str], ...]:
    """Every criterion of a compiled ruleset with its section, in declaration order (groups', bonus, penalty)."""
    return tuple(
        (name, symbol.section or "")
        for name, symbol in compiled.checked.symbols.items()
        if symbol.kind == "criterion"
    )


@functools.lru_cache(maxsize=16)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _fmt(value: Decimal, places: int) -> str:
    """fmt_decimal's rule (pad or round half-up to ``places``), without `quantize` when not needed.

    The engine's results already carry the ruleset's places: then ``str`` is the
    answer, recognised by its decimal point ``places`` characters from the end
    (scientific notation always ends with an exponent, never with ``.dd``).
    """
    text = str(value)
    if places:
        if text[-places - 1 : -places] == "." and "E" not in text:
            return text
    elif text.isdigit():
        return text
    return str(value.quantize(_quantum(places), rounding=ROUND_HALF_UP))


def unit_result_pb(
    r: UnitResult,
    *,
    explain: bool,
    sections: tuple[tuple[str, str], ...] = (),
    requirements: bool | None = None,
) -> ev.UnitResult:
    """A `UnitResult` as a message; ``explain`` adds labels, raw values, sums, the level steps and lets.

    ``sections`` (`criterion_sections`) lists every criterion with its section, so
    that bonus and penalty criteria are reported too; without it only the groups'
    criteria are. Title requirement results are included with ``explain`` (or when
    ``requirements`` says so).
    """
    p = r.places
    ex = r.explanation if explain else None
    groups = {g.name: g for g in ex.groups} if ex else {}
    group_msgs = []
    for name, value in r.groups.items():
        detail = groups.get(name)
        if detail is None:
            group_msgs.append(ev.GroupResult(name=name, value=_fmt(value, p)))
        else:
            group_msgs.append(
                ev.GroupResult(
                    name=name,
                    value=_fmt(value, p),
                    label=detail.label,
                    sum=_fmt(detail.total, p),
                    max="" if detail.max is None else str(value_to_json(detail.max)),
                )
            )
    criteria = {c.name: c for c in ex.criteria} if ex else {}
    points = r.criteria
    listed = sections or tuple((name, "") for name in points)
    criterion_msgs = []
    for name, section in listed:
        got: Any = points.get(name)
        if got is None:
            got = r.values.get(name)  # bonus and penalty criteria: points in the unit's scope
            if not isinstance(got, Decimal):
                continue
        crit = criteria.get(name)
        if crit is None:
            criterion_msgs.append(ev.CriterionResult(name=name, section=section, points=_fmt(got, p)))
            continue
        c = ev.CriterionResult(
            name=name,
            section=crit.section,
            points=_fmt(got, p),
            label=crit.label,
            raw=str(value_to_json(crit.raw)),
            clamped=crit.clamped,
            max="" if crit.max is None else str(value_to_json(crit.max)),
        )
        if crit.table_row is not None:
            c.table_row = crit.table_row
        criterion_msgs.append(c)
    with_requirements = explain if requirements is None else requirements
    msg = ev.UnitResult(
        unit=r.unit or "",
        score=_fmt(r.score, p),
        level=r.level,
        rank=r.rank or 0,
        bonus=_fmt(r.bonus, p),
        penalty=_fmt(r.penalty, p),
        groups=group_msgs,
        criteria=criterion_msgs,
        titles=[_title_pb(t, with_requirements) for t in r.titles.values()],
    )
    if ex is not None:
        if ex.level is not None:
            msg.level_label = ex.level.label
            decision = msg.level_decision
            decision.level = ex.level.level
            decision.label = ex.level.label
            for s in ex.level.steps:
                step = decision.steps.add(level=s.level)
                if s.when is not None:
                    step.when = s.when
                if s.unless is not None:
                    step.unless = s.unless
        for name, value in ex.lets.items():
            msg.lets[name].CopyFrom(to_value(value))
    return msg


def title_award_pb(t: TitleAward) -> ev.TitleAward:
    msg = ev.TitleAward(
        name=t.name, label=t.label, awarded=list(t.awarded), tied=list(t.tied), over_quota=list(t.over_quota)
    )
    if t.quota is not None:
        msg.quota = t.quota
    return msg


def eligibility_pb(
    result: BlocResult, *, explain: bool, sections: tuple[tuple[str, str], ...] = ()
) -> ev.CheckEligibilityResponse:
    """A decided bloc as CheckEligibility's answer: units in ranking order with requirement results."""
    return ev.CheckEligibilityResponse(
        ruleset=ruleset_pb(result.ruleset),
        bloc=result.bloc or "",
        period=result.period or "",
        units=[
            unit_result_pb(u, explain=explain, sections=sections, requirements=True) for u in result.units
        ],
        titles=[title_award_pb(t) for t in result.titles.values()],
    )


def role_pb(decision: RoleDecision) -> ev.RoleDecision:
    return ev.RoleDecision(
        unit=decision.unit,
        chosen_by=decision.trace[decision.chosen_by].alternative,
        alternatives=[
            ev.PickTrace(alternative=t.alternative, unit=t.unit or "", why_not=t.why_not or "")
            for t in decision.trace
        ],
    )


def rotation_pb(rotation: RotationResult, ruleset: Any) -> ev.ComputeRotationResponse:
    return ev.ComputeRotationResponse(
        ruleset=ruleset_pb(ruleset), leader=role_pb(rotation.leader), deputy=role_pb(rotation.deputy)
    )


def diagnostic_pb(d: Diagnostic, source: str | None) -> vals.Diagnostic:
    """A diagnostic with its position, and rendered with the source line and caret as §1.10 shows."""
    # A parent's file in the server's rulesets folder is named relative to it (service.errors).
    return vals.Diagnostic(
        file=public_text(d.span.file),
        line=d.span.line,
        column=d.span.column,
        end_line=d.span.end_line,
        end_column=d.span.end_column,
        severity=vals.SEVERITY_ERROR if d.is_error else vals.SEVERITY_WARNING,
        code=d.code,
        message=public_text(d.message),
        hint=d.hint or "",
        rendered=public_text(render(d, source)),
    )


# ------------------------------------------------------------------ client side


def value_from_json(value: Any) -> vals.Value:
    """A JSON value (numbers read as `Decimal`/`int`) as a typed `Value`, for clients and tools.

    JSON has no dates: ISO date strings travel as text, which date inputs accept.
    """
    if isinstance(value, bool):
        return vals.Value(boolean=value)
    if isinstance(value, int):
        return vals.Value(integer=value)
    if isinstance(value, Decimal):
        return vals.Value(decimal=format(value, "f"))
    if isinstance(value, float):
        raise TypeError("read JSON with parse_float=Decimal: a float cannot carry an exact decimal")
    if isinstance(value, str):
        return vals.Value(text=value)
    if isinstance(value, list):
        return vals.Value(list=vals.ValueList(values=[value_from_json(v) for v in value]))
    if isinstance(value, Mapping):
        return vals.Value(record=vals.Record(fields={str(k): value_from_json(v) for k, v in value.items()}))
    raise TypeError(f"cannot send {type(value).__name__} as a Value")


def case_from_json(case: Mapping[str, Any]) -> ev.BlocCase:
    """A CASE mapping (SPEC §2, as read from a case file) as a `BlocCase` message."""

    def holders(data: Any) -> ev.Holders:
        data = data or {}
        return ev.Holders(leader=data.get("leader") or "", deputy=data.get("deputy") or "")

    return ev.BlocCase(
        bloc=str(case.get("bloc") or ""),
        period=str(case.get("period") or ""),
        members=list(case.get("members") or []),
        current=holders(case.get("current")),
        elected=holders(case.get("elected")),
        history=[
            ev.HistoryEntry(
                period=str(h.get("period", "")), leader=h.get("leader") or "", deputy=h.get("deputy") or ""
            )
            for h in case.get("history") or []
        ],
        submissions=[
            ev.Submission(
                unit=s["unit"], inputs={k: value_from_json(v) for k, v in s.get("inputs", {}).items()}
            )
            for s in case.get("submissions") or []
        ],
    )
