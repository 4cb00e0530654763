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
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from dsl.errors import Diagnostic, FieldViolation, InputError, render
from dsl.parser import normalize
from dsl.results import (
    BlocResult,
    RoleDecision,
    RotationResult,
    TitleAward,
    TitleResult,
    UnitResult,
    fmt_decimal,
    value_to_json,
)
from service.config import Limits
from service.errors import RequestLimitError
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals

_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Longest decimal string accepted: beyond 28 significant digits the engine's context rounds anyway.
MAX_DECIMAL_CHARS = 64

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
        kind = v.WhichOneof("kind")
        if kind is None:
            self.violations.append(
                FieldViolation(
                    path, "no value: set one of decimal, integer, boolean, text, date, list, record"
                )
            )
            return None
        if kind == "decimal":
            text = v.decimal.strip()
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
        if kind == "integer":
            return int(v.integer)
        if kind == "boolean":
            return bool(v.boolean)
        if kind == "text":
            return normalize(v.text)
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
        return {normalize(name): self.value(values[name], prefix + name) for name in sorted(values)}

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
        return vals.Value(decimal=str(value_to_json(value)))
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


def unit_result_pb(r: UnitResult, *, explain: bool, requirements: bool | None = None) -> ev.UnitResult:
    """A `UnitResult` as a message; ``explain`` adds labels, raw values, sums, the level steps and lets.

    Title requirement results are included with ``explain`` (or when ``requirements`` says so).
    """
    p = r.places
    msg = ev.UnitResult(
        unit=r.unit or "",
        score=fmt_decimal(r.score, p),
        level=r.level,
        rank=r.rank or 0,
        bonus=fmt_decimal(r.bonus, p),
        penalty=fmt_decimal(r.penalty, p),
    )
    ex = r.explanation if explain else None
    groups = {g.name: g for g in ex.groups} if ex else {}
    for name, value in r.groups.items():
        g = msg.groups.add(name=name, value=fmt_decimal(value, p))
        detail = groups.get(name)
        if detail is not None:
            g.label = detail.label
            g.sum = fmt_decimal(detail.total, p)
            g.max = "" if detail.max is None else str(value_to_json(detail.max))
    criteria = {c.name: c for c in ex.criteria} if ex else {}
    for name, points in r.criteria.items():
        c = msg.criteria.add(name=name, points=fmt_decimal(points, p))
        crit = criteria.get(name)
        if crit is not None:
            c.section = crit.section
            c.label = crit.label
            c.raw = str(value_to_json(crit.raw))
            c.clamped = crit.clamped
            c.max = "" if crit.max is None else str(value_to_json(crit.max))
            if crit.table_row is not None:
                c.table_row = crit.table_row
    with_requirements = explain if requirements is None else requirements
    for t in r.titles.values():
        msg.titles.append(_title_pb(t, with_requirements))
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


def eligibility_pb(result: BlocResult, *, explain: bool) -> ev.CheckEligibilityResponse:
    """A decided bloc as CheckEligibility's answer: units in ranking order with requirement results."""
    return ev.CheckEligibilityResponse(
        ruleset=ruleset_pb(result.ruleset),
        bloc=result.bloc or "",
        period=result.period or "",
        units=[unit_result_pb(u, explain=explain, requirements=True) for u in result.units],
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
    return vals.Diagnostic(
        file=d.span.file,
        line=d.span.line,
        column=d.span.column,
        end_line=d.span.end_line,
        end_column=d.span.end_column,
        severity=vals.SEVERITY_ERROR if d.is_error else vals.SEVERITY_WARNING,
        code=d.code,
        message=d.message,
        hint=d.hint or "",
        rendered=render(d, source),
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
