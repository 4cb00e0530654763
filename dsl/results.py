"""What an evaluation produces: unit results, title decisions, rotation, explanations.

These plain frozen records are the contract between the evaluator (unit
level), the bloc evaluation (ranking, titles, rotation), the CLI's JSON/table
output and the gRPC mapping. JSON rendering (SPEC §2 shapes) lives here, in
one place: decimals become strings with exactly the ruleset's rounding places.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: Unit-level title statuses (a unit checked alone, SPEC §1.6 last bullet).
ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not_eligible"
UNDECIDED = "undecided"
#: Bloc-level title statuses.
AWARDED = "awarded"
OVER_QUOTA = "over_quota"
TIED = "tied"


def fmt_decimal(value: Decimal, places: int) -> str:
    """A decimal as a string with exactly ``places`` places (``97.5`` → ``"97.50"``).

    Values reaching here are already rounded by the ruleset's mode; quantizing
    only pads (or, for raw values in explanations, rounds half-up for display).
    """
    q = Decimal(1).scaleb(-places)
    return str(value.quantize(q, rounding=ROUND_HALF_UP))


def value_to_json(value: Any, places: int | None = None) -> Any:
    """Render an evaluated value for JSON: decimals as strings, dates ISO, lists/records recursively.

    With ``places`` a decimal is padded/rounded to it; without, it is written exactly.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if places is not None:
            return fmt_decimal(value, places)
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [value_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: value_to_json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class RulesetRef:
    name: str
    version: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion's points and how they came about.

    ``section`` is the criterion's group name, or ``bonus`` / ``penalty``.
    ``raw`` is the expression's value before clamping and rounding;
    ``points`` = round(clamp(raw, 0, max)); ``clamped`` says whether the clamp
    changed the value. ``table_row`` is the 1-based matched row of a table at
    the top of the expression (0 for its ``else``), None when there is none.
    """

    name: str
    label: str
    section: str
    raw: Decimal
    points: Decimal
    clamped: bool
    max: Decimal | None
    table_row: int | None = None


@dataclass(frozen=True, slots=True)
class GroupResult:
    """A group (or ``bonus`` / ``penalty``): sum of its criteria before and after the cap."""

    name: str
    label: str
    total: Decimal
    value: Decimal
    max: Decimal | None


@dataclass(frozen=True, slots=True)
class RequireResult:
    """One ``require`` of a title: its text as written, reason, outcome and the values it used.

    ``passed`` is None when the requirement could not be decided (a unit
    alone and the requirement needs the bloc).
    """

    text: str
    reason: str | None
    passed: bool | None
    values: dict[str, Any]
    line: int = 0


@dataclass(frozen=True, slots=True)
class TitleResult:
    """A title's status for one unit, with every requirement's result."""

    name: str
    label: str
    status: str
    requires: tuple[RequireResult, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LevelStep:
    """One level tried during classification: did ``when`` hold, did ``unless`` hold."""

    level: str
    when: bool | None
    unless: bool | None


@dataclass(frozen=True, slots=True)
class LevelDecision:
    level: str
    label: str
    steps: tuple[LevelStep, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    criteria: tuple[CriterionResult, ...]
    groups: tuple[GroupResult, ...]
    level: LevelDecision | None
    lets: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnitResult:
    """One unit's result. ``titles`` hold eligibility (unit alone) or bloc statuses.

    ``values`` maps every name of the unit's scope (inputs, lets, criteria,
    groups, bonus, penalty, score, level) to its value; title requirements and
    rotation conditions are evaluated against it.
    """

    unit: str | None
    ruleset: RulesetRef
    places: int
    score: Decimal
    level: str
    groups: dict[str, Decimal]
    criteria: dict[str, Decimal]
    bonus: Decimal
    penalty: Decimal
    titles: dict[str, TitleResult]
    values: dict[str, Any] = field(default_factory=dict, repr=False)
    rank: int | None = None
    explanation: Explanation | None = None
    stage: str | None = None

    def to_json(self, *, explain: bool = False) -> dict[str, Any]:
        """The SPEC §2 shape: one element of ``units`` (``rank`` only inside a bloc)."""
        p = self.places
        out: dict[str, Any] = {}
        if self.unit is not None:
            out["unit"] = self.unit
        out["score"] = fmt_decimal(self.score, p)
        out["level"] = self.level
        if self.rank is not None:
            out["rank"] = self.rank
        out["groups"] = {k: fmt_decimal(v, p) for k, v in self.groups.items()}
        out["criteria"] = {k: fmt_decimal(v, p) for k, v in self.criteria.items()}
        out["bonus"] = fmt_decimal(self.bonus, p)
        out["penalty"] = fmt_decimal(self.penalty, p)
        out["titles"] = {k: t.status for k, t in self.titles.items()}
        if self.stage is not None:
            out["stage"] = self.stage
        if explain:
            out["explanation"] = explanation_to_json(self, p)
        return out


def require_to_json(r: RequireResult) -> dict[str, Any]:
    return {
        "require": r.text,
        "reason": r.reason,
        "passed": r.passed,
        "values": {k: value_to_json(v) for k, v in r.values.items()},
        "line": r.line,
    }


def explanation_to_json(result: UnitResult, places: int) -> dict[str, Any]:
    ex = result.explanation
    out: dict[str, Any] = {
        "titles": {
            name: {
                "status": t.status,
                "label": t.label,
                **({"note": t.note} if t.note else {}),
                "requires": [require_to_json(r) for r in t.requires],
            }
            for name, t in result.titles.items()
        }
    }
    if ex is None:
        return out
    out["criteria"] = {
        c.name: {
            "label": c.label,
            "section": c.section,
            "raw": value_to_json(c.raw),
            "points": fmt_decimal(c.points, places),
            "clamped": c.clamped,
            "max": None if c.max is None else value_to_json(c.max),
            **({"table_row": c.table_row} if c.table_row is not None else {}),
        }
        for c in ex.criteria
    }
    out["groups"] = {
        g.name: {
            "label": g.label,
            "sum": fmt_decimal(g.total, places),
            "value": fmt_decimal(g.value, places),
            "max": None if g.max is None else value_to_json(g.max),
        }
        for g in ex.groups
    }
    if ex.level is not None:
        out["level"] = {
            "level": ex.level.level,
            "label": ex.level.label,
            "steps": [{"level": s.level, "when": s.when, "unless": s.unless} for s in ex.level.steps],
        }
    if ex.lets:
        out["lets"] = {k: value_to_json(v) for k, v in ex.lets.items()}
    return out


@dataclass(frozen=True, slots=True)
class TitleAward:
    """A title's outcome across the bloc."""

    name: str
    label: str
    quota: int | None
    awarded: tuple[str, ...]
    tied: tuple[str, ...]
    over_quota: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "quota": self.quota,
            "awarded": list(self.awarded),
            "tied": list(self.tied),
            "over_quota": list(self.over_quota),
        }


@dataclass(frozen=True, slots=True)
class PickTrace:
    """One alternative of a rotation chain: what it was and what it yielded (or why not)."""

    alternative: str
    unit: str | None
    why_not: str | None = None


@dataclass(frozen=True, slots=True)
class RoleDecision:
    role: str
    unit: str
    chosen_by: int
    trace: tuple[PickTrace, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "chosen_by": self.trace[self.chosen_by].alternative,
            "alternatives": [
                {"alternative": t.alternative, "unit": t.unit, "why_not": t.why_not} for t in self.trace
            ],
        }


@dataclass(frozen=True, slots=True)
class RotationResult:
    leader: RoleDecision
    deputy: RoleDecision

    def to_json(self, *, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"leader": self.leader.unit, "deputy": self.deputy.unit}
        if explain:
            out["explanation"] = {"leader": self.leader.to_json(), "deputy": self.deputy.to_json()}
        return out


@dataclass(frozen=True, slots=True)
class BlocResult:
    """A whole bloc decided: units in ranking order, title awards, rotation."""

    ruleset: RulesetRef
    bloc: str | None
    period: str | None
    units: tuple[UnitResult, ...]
    titles: dict[str, TitleAward]
    rotation: RotationResult | None

    def to_json(self, *, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ruleset": self.ruleset.to_json(),
            "bloc": self.bloc,
            "period": self.period,
            "units": [u.to_json(explain=explain) for u in self.units],
            "titles": {k: t.to_json() for k, t in self.titles.items()},
        }
        if self.rotation is not None:
            out["rotation"] = self.rotation.to_json(explain=explain)
        return out
