"""Rotation over the years: roll a bloc's leader/deputy rotation forward and check invariants.

This module owns ``thidua simulate``. From a CASE it decides the bloc once
(the real results of the case's period), then decides the next period's
leader and deputy by the ruleset's `rotation` chains (`dsl.rotation`) again
and again, each period's decision becoming the next one's ``current`` and
the one before going into the history — N periods in all.

Later periods need results (ranking, scores, levels, awards) to feed
``first of ranking``, ``rank(unit)``, ``awarded(unit, T)``…; they are either
the case's own results repeated (``repeat``), or generated deterministically
from a seed (``seed``): each period the units' results are dealt out again
by a seeded shuffle, so every unit sometimes ranks first and sometimes last.

Invariants are named on the command line (no language change):

* ``no-repeat-leader:N`` — no unit leads twice within any N consecutive periods;
* ``no-repeat-deputy:N`` — likewise for the deputy;
* ``every-member-leads-per-cycle`` — in every run of as many consecutive
  periods as the bloc has members, each member leads exactly once;
* ``deputy-becomes-leader`` — each period's deputy leads the next period.

The report is the timeline and, per invariant, the first period where it
breaks (with why), or that it held throughout.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.case import Case, HistoryEntry, Holders
from dsl.errors import EvaluationError, FieldViolation, InputError
from dsl.rotation import RotationContext, decide_rotation, evaluator

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

__all__ = ["INVARIANTS", "Invariant", "Period", "Simulation", "parse_invariant", "simulate"]

#: The invariants one can name, with the parameter each takes (None: none).
INVARIANTS: dict[str, str | None] = {
    "no-repeat-leader": "N",
    "no-repeat-deputy": "N",
    "every-member-leads-per-cycle": None,
    "deputy-becomes-leader": None,
}
MAX_YEARS = 1000


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    periods: int | None = None

    def __str__(self) -> str:
        return self.name if self.periods is None else f"{self.name}:{self.periods}"


def parse_invariant(text: str) -> Invariant:
    """``no-repeat-leader:3`` → `Invariant`; an unknown name or bad parameter is an `InputError`."""
    m = re.fullmatch(r"([a-z-]+)(?::(\d+))?", text.strip())
    known = ", ".join(k + (f":{v}" if v else "") for k, v in INVARIANTS.items())
    if m is None or m.group(1) not in INVARIANTS:
        raise InputError(
            [FieldViolation("invariant", f"unknown invariant '{text}' (known: {known})")], what="invariant"
        )
    name, number = m.group(1), m.group(2)
    if INVARIANTS[name] is None:
        if number is not None:
            raise InputError([FieldViolation("invariant", f"'{name}' takes no parameter")], what="invariant")
        return Invariant(name)
    if number is None or int(number) < 2:
        raise InputError(
            [FieldViolation("invariant", f"'{name}' needs a number of periods of at least 2, as {name}:3")],
            what="invariant",
        )
    return Invariant(name, int(number))


@dataclass(frozen=True, slots=True)
class Period:
    """One simulated period: who holds the seats and which alternative chose each."""

    period: str
    leader: str
    deputy: str
    leader_by: str
    deputy_by: str
    ranking: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "leader": self.leader,
            "deputy": self.deputy,
            "leader_chosen_by": self.leader_by,
            "deputy_chosen_by": self.deputy_by,
            "ranking": list(self.ranking),
        }


@dataclass(frozen=True, slots=True)
class Check:
    """An invariant's verdict: held, or the first period where it broke and why."""

    invariant: Invariant
    broken_at: str | None = None
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "invariant": str(self.invariant),
            "holds": self.broken_at is None,
            "broken_at": self.broken_at,
            "why": self.why,
        }


@dataclass(frozen=True)
class Simulation:
    """The timeline (the case's current period first) and each invariant's verdict."""

    start: Period
    periods: tuple[Period, ...]
    checks: tuple[Check, ...]
    results: str
    stopped: str = ""

    @property
    def holds(self) -> bool:
        return not self.stopped and all(c.broken_at is None for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "results": self.results,
            "start": self.start.to_json(),
            "periods": [p.to_json() for p in self.periods],
            "invariants": [c.to_json() for c in self.checks],
            "stopped": self.stopped or None,
            "holds": self.holds,
        }


@dataclass(frozen=True)
class _Results:
    """One period's results as rotation sees them."""

    ranking: tuple[str, ...]
    ranks: Mapping[str, int]
    scores: Mapping[str, Decimal]
    levels: Mapping[str, str]
    awarded: Mapping[str, frozenset[str]]


def simulate(
    compiled: CompiledRuleset,
    case: Case,
    years: int,
    invariants: Sequence[Invariant] = (),
    *,
    seed: int | None = None,
    given: Sequence[Case] = (),
) -> Simulation:
    """Roll the rotation forward ``years`` periods from the case and check ``invariants``.

    ``given`` are later periods' cases, in order: period 2 is decided on the
    results of ``given[0]``'s submissions, and so on (their members must be
    the case's). After them, ``seed`` None repeats the case's results every
    period; an integer deals them out again each period by a shuffle seeded
    with it (deterministic).
    """
    from dsl.bloc import evaluate_bloc

    if not 1 <= years <= MAX_YEARS:
        raise InputError(
            [FieldViolation("years", f"must be from 1 to {MAX_YEARS}, got {years}")], what="simulation"
        )
    rotation = compiled.ruleset.first(n.Rotation)
    if rotation is None:
        raise EvaluationError("the ruleset declares no rotation to simulate")
    if case.current.leader is None or case.current.deputy is None:
        raise InputError([FieldViolation("current", "the simulation needs the current leader and deputy")])
    real = _results(evaluate_bloc(compiled, case))
    later: list[_Results] = []
    for i, other in enumerate(given):
        if set(other.members) != set(case.members):
            raise InputError(
                [FieldViolation(f"given[{i}].members", "a later period's case must have the same members")]
            )
        later.append(_results(evaluate_bloc(compiled, other)))
    rng = random.Random(seed) if seed is not None else None
    source = compiled.sources.get(rotation.span.file) or (
        compiled.source if rotation.span.file in (compiled.path, "<string>") else None
    )
    label = case.period or "0"
    start = Period(label, case.current.leader, case.current.deputy, "(the case)", "(the case)", real.ranking)
    current = case.current
    history = case.history
    periods: list[Period] = []
    stopped = ""
    for year in range(years):
        if year == 0:
            results = real
        elif year - 1 < len(later):
            results = later[year - 1]
        else:
            results = real if rng is None else _deal(real, case.members, rng)
        ctx = RotationContext(
            members=case.members,
            ranking=results.ranking,
            ranks=results.ranks,
            scores=results.scores,
            levels=results.levels,
            awarded=results.awarded,
            current=current,
            history=history,
        )
        following = _next_label(label)
        try:
            decision = decide_rotation(rotation, ctx, evaluator(ctx, compiled.plan.enum_values), source)
        except EvaluationError as exc:
            stopped = f"period {following}: {exc}"
            break
        lead, dep = decision.leader, decision.deputy
        periods.append(
            Period(
                following,
                lead.unit,
                dep.unit,
                lead.trace[lead.chosen_by].alternative,
                dep.trace[dep.chosen_by].alternative,
                results.ranking,
            )
        )
        history = (HistoryEntry(label, current.leader, current.deputy), *history)
        current = Holders(lead.unit, dep.unit)
        label = following
    timeline = [start, *periods]
    checks = tuple(_check(inv, timeline, case.members) for inv in invariants)
    how = "repeated" if seed is None else f"generated (seed {seed})"
    if given:
        how = f"given for {len(given)} period(s), then {how}"
    return Simulation(start, tuple(periods), checks, how, stopped)


def _results(decided: Any) -> _Results:
    """What rotation needs of a decided bloc (`dsl.results.BlocResult`)."""
    return _Results(
        ranking=tuple(u.unit or "" for u in decided.units),
        ranks={u.unit or "": u.rank or 0 for u in decided.units},
        scores={u.unit or "": u.score for u in decided.units},
        levels={u.unit or "": u.level for u in decided.units},
        awarded={name: frozenset(a.awarded) for name, a in decided.titles.items()},
    )


def _deal(real: _Results, members: Sequence[str], rng: random.Random) -> _Results:
    """The real results dealt out to the units in a seeded random order (each unit gets one unit's)."""
    order = list(real.ranking)
    shuffled = list(members)
    rng.shuffle(shuffled)
    give = dict(zip(shuffled, order, strict=True))  # unit → whose results it gets
    ranking = tuple(sorted(members, key=lambda u: order.index(give[u])))
    return _Results(
        ranking=ranking,
        ranks={u: real.ranks[give[u]] for u in members},
        scores={u: real.scores[give[u]] for u in members},
        levels={u: real.levels[give[u]] for u in members},
        awarded={t: frozenset(u for u in members if give[u] in won) for t, won in real.awarded.items()},
    )


def _next_label(period: str) -> str:
    """``2023`` → ``2024``; ``2023-H1``-like labels get a counter: ``2023-H1+1``, ``+2``…"""
    if period.isdigit():
        return str(int(period) + 1)
    m = re.fullmatch(r"(.*)\+(\d+)", period)
    if m:
        return f"{m.group(1)}+{int(m.group(2)) + 1}"
    return f"{period}+1"


def _check(inv: Invariant, timeline: Sequence[Period], members: Sequence[str]) -> Check:
    if inv.name in ("no-repeat-leader", "no-repeat-deputy"):
        role = "leader" if inv.name == "no-repeat-leader" else "deputy"
        window = inv.periods or 2
        for i, p in enumerate(timeline):
            unit = getattr(p, role)
            for q in timeline[max(0, i - window + 1) : i]:
                if getattr(q, role) == unit:
                    return Check(inv, p.period, f"{unit} is {role} in {q.period} and again in {p.period}")
        return Check(inv)
    if inv.name == "every-member-leads-per-cycle":
        size = len(members)
        for end in range(size, len(timeline) + 1):
            leaders = [p.leader for p in timeline[end - size : end]]
            missing = [m for m in members if m not in leaders]
            if missing:
                first, last = timeline[end - size].period, timeline[end - 1].period
                return Check(
                    inv, last, f"from {first} to {last} {', '.join(missing)} never led{_twice(leaders)}"
                )
        return Check(inv)
    for prev, p in itertools.pairwise(timeline):  # deputy-becomes-leader
        if p.leader != prev.deputy:
            return Check(
                inv, p.period, f"{prev.deputy} was deputy in {prev.period} but {p.leader} leads in {p.period}"
            )
    return Check(inv)


def _twice(leaders: Sequence[str]) -> str:
    again = sorted({u for u in leaders if leaders.count(u) > 1})
    return f" ({', '.join(again)} led more than once)" if again else ""
