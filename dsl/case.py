"""A bloc CASE (SPEC §2): read from JSON, checked for shape, frozen into a `Case`.

This module owns the case's structure and its consistency — members, current
and elected holders, history, one submission per member — and nothing about
any ruleset: a submission's inputs are kept as read (JSON numbers as
`Decimal`, text NFC-normalized) and validated against the ruleset by
`dsl.bloc`, which merges those violations with the ones found here so that a
bad case is reported in one go.

Every problem becomes a `FieldViolation` with a path such as
``submissions[3].unit`` or ``history[0].leader``; `parse_case` raises them all
at once as an `InputError(what="case")`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl.errors import FieldViolation, InputError
from dsl.inputs import nfc

ROLES = ("leader", "deputy")
CASE_FIELDS = ("ruleset", "bloc", "period", "members", "current", "elected", "history", "submissions")
SUBMISSION_FIELDS = ("unit", "inputs", "stage")
HISTORY_FIELDS = ("period", "leader", "deputy")

#: Reports a unit (at a path) that is not a member of the bloc.
MemberCheck = Callable[[str | None, str], None]


@dataclass(frozen=True, slots=True)
class Holders:
    """Who holds (or was elected to) the leader and deputy seats; either may be absent."""

    leader: str | None = None
    deputy: str | None = None

    def get(self, role: str) -> str | None:
        return self.leader if role == "leader" else self.deputy


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier period's leader and deputy."""

    period: str
    leader: str | None = None
    deputy: str | None = None

    def get(self, role: str) -> str | None:
        return self.leader if role == "leader" else self.deputy


@dataclass(frozen=True, slots=True)
class Submission:
    """One unit's inputs as read from the case (not yet validated against a ruleset).

    ``index`` is the submission's position in the case, for error paths.
    """

    unit: str
    inputs: Mapping[str, Any]
    stage: str | None = None
    index: int = 0

    @property
    def path(self) -> str:
        """The error-path prefix of this submission: ``submissions[2](tham_muu)``."""
        return f"submissions[{self.index}]({self.unit})"


@dataclass(frozen=True, slots=True)
class Case:
    """A whole bloc to decide for one period.

    ``members`` are in the bloc's agreed rotation order. ``history`` is sorted
    newest first (by period), whatever order the file gave it in.
    ``ruleset`` is the case's own ``"name@version"`` reference, if any.
    """

    members: tuple[str, ...]
    submissions: tuple[Submission, ...]
    ruleset: str | None = None
    bloc: str | None = None
    period: str | None = None
    current: Holders = Holders()
    elected: Holders = Holders()
    history: tuple[HistoryEntry, ...] = ()

    def submission(self, unit: str) -> Submission | None:
        for s in self.submissions:
            if s.unit == unit:
                return s
        return None


def period_key(period: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of period labels: digit runs compare as numbers (``2023.10`` after ``2023.9``)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", period))


def load_case(text: str, path: str = "<case>") -> Case:
    """Parse CASE JSON text; numbers become `Decimal` (never float). Raises `InputError`."""
    return parse_case(read_json(text, path, what="case"))


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing duplicate keys: JSON would silently keep only the last value."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in pairs:
        # Names are compared as NFC (SPEC §1.1): "tên" typed composed and decomposed is one key.
        name = nfc(key)
        if name in seen:
            raise ValueError(f"the key {json.dumps(name, ensure_ascii=False)} appears twice in one object")
        seen.add(name)
        out[key] = value
    return out


def read_json(text: str, path: str, what: str = "case") -> Any:
    """JSON text → Python data with exact numbers; malformed JSON is an `InputError` naming the spot."""

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number thidua accepts")

    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=int,
            parse_constant=reject_constant,
            object_pairs_hook=unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            [FieldViolation(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")],
            what=what,
        ) from None
    except ValueError as exc:
        raise InputError([FieldViolation(path, f"not valid JSON: {exc}")], what=what) from None
    except RecursionError:
        raise InputError([FieldViolation(path, "JSON nested too deeply")], what=what) from None


def parse_case(data: Any) -> Case:
    """A checked `Case` from a CASE mapping; every structural problem at once as `InputError`."""
    case, violations = check_case(data)
    if violations:
        raise InputError(violations, what="case")
    return case


def check_case(data: Any) -> tuple[Case, list[FieldViolation]]:
    """The best `Case` that can be read from ``data``, and every problem found.

    Malformed parts are left out of the returned case (a submission without a
    unit, a history entry without a period) so that callers can go on
    validating what is readable and report everything together.
    """
    out: list[FieldViolation] = []
    if not isinstance(data, Mapping):
        return Case(members=(), submissions=()), [FieldViolation("$", "a case must be a JSON object")]
    for key in data:
        if key not in CASE_FIELDS:
            out.append(FieldViolation(str(key), f"unknown field; a case has {_words(CASE_FIELDS)}"))

    ruleset = _opt_text(data, "ruleset", "ruleset", out)
    if ruleset is not None and "@" not in ruleset:
        out.append(FieldViolation("ruleset", f"'{ruleset}' should be NAME@VERSION, e.g. 'khoi3@2023.1'"))
    bloc = _opt_text(data, "bloc", "bloc", out)
    period = _opt_text(data, "period", "period", out)

    members = _members(data, out)
    member_set = set(members)
    known = bool(members)  # without members, "not a member" would only repeat the first error

    def check_member(unit: str | None, path: str) -> None:
        if unit is not None and known and unit not in member_set:
            out.append(FieldViolation(path, f"'{unit}' is not a member of the bloc"))

    current = _holders(data, "current", out)
    elected = _holders(data, "elected", out)
    for scope, holders in (("current", current), ("elected", elected)):
        for role in ROLES:
            check_member(holders.get(role), f"{scope}.{role}")
        if holders.leader is not None and holders.leader == holders.deputy:
            out.append(
                FieldViolation(f"{scope}.deputy", f"'{holders.deputy}' cannot be both leader and deputy")
            )

    history = _history(data, period, out, check_member)
    submissions, seen = _submissions(data, out, check_member)

    for i, unit in enumerate(members):
        if known and unit not in seen and not _unreadable_submissions(data):
            out.append(FieldViolation(f"members[{i}]", f"member '{unit}' has no submission"))

    case = Case(
        members=members,
        submissions=submissions,
        ruleset=ruleset,
        bloc=bloc,
        period=period,
        current=current,
        elected=elected,
        history=history,
    )
    return case, out


# ----------------------------------------------------------------- helpers


def _words(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


def _unit_name(value: Any, path: str, out: list[FieldViolation]) -> str | None:
    """A unit identifier: a non-empty string, NFC-normalized (null means absent)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        out.append(FieldViolation(path, f"expected a unit name (a non-empty string), got {_show(value)}"))
        return None
    return nfc(value)


def _opt_text(data: Mapping[str, Any], key: str, path: str, out: list[FieldViolation]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        out.append(FieldViolation(path, f"expected a string, got {_show(value)}"))
        return None
    return nfc(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (int, Decimal)):
        return f"the number {value}"
    return repr(value)


def _members(data: Mapping[str, Any], out: list[FieldViolation]) -> tuple[str, ...]:
    raw = data.get("members")
    if raw is None:
        out.append(FieldViolation("members", "missing: the bloc's members in rotation order are required"))
        return ()
    if not isinstance(raw, list):
        out.append(FieldViolation("members", f"expected a list of unit names, got {_show(raw)}"))
        return ()
    if not raw:
        out.append(FieldViolation("members", "a bloc needs at least one member"))
        return ()
    members: list[str] = []
    first_at: dict[str, int] = {}
    for i, item in enumerate(raw):
        unit = _unit_name(item, f"members[{i}]", out)
        if unit is None:
            if item is None:
                out.append(FieldViolation(f"members[{i}]", "expected a unit name, got null"))
            continue
        if unit in first_at:
            out.append(
                FieldViolation(
                    f"members[{i}]", f"'{unit}' is listed twice (first at members[{first_at[unit]}])"
                )
            )
            continue
        first_at[unit] = i
        members.append(unit)
    return tuple(members)


def _holders(data: Mapping[str, Any], scope: str, out: list[FieldViolation]) -> Holders:
    raw = data.get(scope)
    if raw is None:
        return Holders()
    if not isinstance(raw, Mapping):
        out.append(FieldViolation(scope, f"expected an object with leader and deputy, got {_show(raw)}"))
        return Holders()
    for key in raw:
        if key not in ROLES:
            out.append(FieldViolation(f"{scope}.{key}", "unknown field; expected leader or deputy"))
    return Holders(
        leader=_unit_name(raw.get("leader"), f"{scope}.leader", out),
        deputy=_unit_name(raw.get("deputy"), f"{scope}.deputy", out),
    )


def _history(
    data: Mapping[str, Any],
    period: str | None,
    out: list[FieldViolation],
    check_member: MemberCheck,
) -> tuple[HistoryEntry, ...]:
    raw = data.get("history")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        out.append(FieldViolation("history", f"expected a list of earlier periods, got {_show(raw)}"))
        return ()
    entries: list[HistoryEntry] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = f"history[{i}]"
        if not isinstance(item, Mapping):
            out.append(
                FieldViolation(path, f"expected an object with period, leader and deputy, got {_show(item)}")
            )
            continue
        for key in item:
            if key not in HISTORY_FIELDS:
                out.append(
                    FieldViolation(f"{path}.{key}", "unknown field; expected period, leader or deputy")
                )
        p = item.get("period")
        if not isinstance(p, str) or not p.strip():
            out.append(FieldViolation(f"{path}.period", f"required: the period as a string, got {_show(p)}"))
            continue
        p = nfc(p)
        if p in seen:
            out.append(
                FieldViolation(
                    f"{path}.period", f"period '{p}' is listed twice (first at history[{seen[p]}])"
                )
            )
            continue
        if period is not None and period_key(p) >= period_key(period):
            out.append(
                FieldViolation(
                    f"{path}.period", f"period '{p}' is not earlier than the case's period '{period}'"
                )
            )
            continue
        seen[p] = i
        leader = _unit_name(item.get("leader"), f"{path}.leader", out)
        deputy = _unit_name(item.get("deputy"), f"{path}.deputy", out)
        check_member(leader, f"{path}.leader")
        check_member(deputy, f"{path}.deputy")
        entries.append(HistoryEntry(p, leader, deputy))
    entries.sort(key=lambda e: period_key(e.period), reverse=True)
    return tuple(entries)


def _unreadable_submissions(data: Mapping[str, Any]) -> bool:
    """True when ``submissions`` itself is missing or malformed (already reported once)."""
    return not isinstance(data.get("submissions"), list)


def _submissions(
    data: Mapping[str, Any], out: list[FieldViolation], check_member: MemberCheck
) -> tuple[tuple[Submission, ...], set[str]]:
    """The readable submissions, and every unit named by one (readable or not)."""
    raw = data.get("submissions")
    if raw is None:
        out.append(FieldViolation("submissions", "missing: one submission per member is required"))
        return (), set()
    if not isinstance(raw, list):
        out.append(FieldViolation("submissions", f"expected a list of submissions, got {_show(raw)}"))
        return (), set()
    subs: list[Submission] = []
    first_at: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = f"submissions[{i}]"
        if not isinstance(item, Mapping):
            out.append(FieldViolation(path, f"expected an object with unit and inputs, got {_show(item)}"))
            continue
        for key in item:
            if key not in SUBMISSION_FIELDS:
                out.append(
                    FieldViolation(
                        f"{path}.{key}", f"unknown field; a submission has {_words(SUBMISSION_FIELDS)}"
                    )
                )
        unit = _unit_name(item.get("unit"), f"{path}.unit", out)
        if unit is None:
            if item.get("unit") is None:
                out.append(FieldViolation(f"{path}.unit", "required: the unit this submission is for"))
            continue
        inputs = item.get("inputs")
        if inputs is None:
            out.append(FieldViolation(f"{path}({unit}).inputs", "required: the unit's inputs as an object"))
            inputs = None
        elif not isinstance(inputs, Mapping):
            out.append(FieldViolation(f"{path}({unit}).inputs", f"expected an object, got {_show(inputs)}"))
            inputs = None
        stage = item.get("stage")
        if stage is not None and not isinstance(stage, str):
            out.append(FieldViolation(f"{path}({unit}).stage", f"expected a string, got {_show(stage)}"))
            stage = None
        check_member(unit, f"{path}.unit")
        if unit in first_at:
            out.append(
                FieldViolation(
                    f"{path}.unit",
                    f"a second submission for '{unit}' (first at submissions[{first_at[unit]}])",
                )
            )
            continue
        first_at[unit] = i
        if inputs is None:
            continue
        subs.append(Submission(unit, dict(inputs), nfc(stage) if stage else None, i))
    return tuple(subs), set(first_at)
