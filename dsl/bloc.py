"""Deciding a whole bloc (SPEC §1.6): ranking, titles with quotas and ties, orchestration.

This module owns what happens once every unit has been scored: the bloc
ranking with competition ranks (1, 2, 2, 4), each title decided in
declaration order for all units at once (eligibility, the title's own
ordering, the quota, ties at the quota boundary), and `evaluate_bloc`, which
runs the whole pipeline — case checks, input validation, bloc aggregates,
scoring, ranking, titles and rotation (`dsl.rotation`) — into a `BlocResult`.

The ranking and quota arithmetic are pure functions over plain key tuples so
that they can be tested (and reasoned about) without a ruleset. Ordering is
done with stable sorts, never pairwise comparisons of units: deciding a bloc
costs O(n log n) in its size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.case import Case, check_case
from dsl.errors import EvaluationError, FieldViolation, InputError
from dsl.interpreter import MapEnv, evaluate
from dsl.results import (
    AWARDED,
    NOT_ELIGIBLE,
    OVER_QUOTA,
    TIED,
    BlocResult,
    RequireResult,
    TitleAward,
    TitleResult,
    UnitResult,
)
from dsl.rotation import RotationContext, decide_rotation, evaluator
from dsl.runtime import BlocAggregates, Plan, RequirePlan, TitlePlan

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

#: A unit's values for the keys of one ordering, in key order.
Key = tuple[Any, ...]


# ------------------------------------------------------------ pure ranking core


def sort_order(keys: Sequence[Key], descending: Sequence[bool]) -> list[int]:
    """Positions of ``keys`` in ranking order: by each key in turn, in its direction.

    Stable: items equal on every key keep their input order (callers pass
    units in rotation order, so that is how equal units are listed). Done as
    one stable sort per key, last key first, so values only ever need ``<``
    within one key — dates, decimals, booleans and texts all work.
    """
    order = list(range(len(keys)))
    for k in reversed(range(len(descending))):
        # reverse=True keeps equal elements in their original order (documented by Python).
        order.sort(key=lambda i: keys[i][k], reverse=descending[k])
    return order


def competition_ranks(ordered: Sequence[Key]) -> list[int]:
    """Competition ranks of keys already in ranking order: ``1, 2, 2, 4``.

    A unit's rank is one more than the number of units strictly ahead of it.
    """
    ranks: list[int] = []
    for i, key in enumerate(ordered):
        if i > 0 and key == ordered[i - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(i + 1)
    return ranks


def quota_limit(count: int | None, percent: Decimal | None, bloc_size: int) -> int | None:
    """How many units a title may award: ``quota N`` → N; ``quota P%`` → floor(P% × size), at least 1.

    ``None`` (no quota) means every eligible unit. ``percent`` is a fraction
    (``5%`` is ``Decimal("0.05")``); the arithmetic is exact.
    """
    if count is not None:
        return count
    if percent is not None:
        share = (percent * bloc_size).to_integral_value(rounding=ROUND_FLOOR)
        return max(1, int(share))
    return None


def quota_statuses(ordered: Sequence[Key], limit: int | None) -> list[str]:
    """The status of each eligible unit, given their keys in the title's order.

    Within the quota: ``awarded``; beyond it: ``over_quota``. When the units
    on both sides of the quota boundary are equal on every key, that whole
    group is ``tied`` — none of them awarded — and left for a vote (SPEC §1.6.4).
    """
    n = len(ordered)
    if limit is None or n <= limit:
        return [AWARDED] * n
    if limit <= 0:
        return [OVER_QUOTA] * n
    boundary = ordered[limit]
    if ordered[limit - 1] != boundary:
        return [AWARDED] * limit + [OVER_QUOTA] * (n - limit)
    start = limit - 1
    while start > 0 and ordered[start - 1] == boundary:
        start -= 1
    end = limit + 1
    while end < n and ordered[end] == boundary:
        end += 1
    return [AWARDED] * start + [TIED] * (end - start) + [OVER_QUOTA] * (n - end)


def rank_units(
    units: Sequence[str], key_of: Callable[[str], Key], descending: Sequence[bool]
) -> tuple[list[str], dict[str, int], dict[str, Key]]:
    """Units in ranking order, their competition ranks, and their keys.

    ``units`` come in rotation order, which therefore orders equal units.
    """
    keys = [key_of(u) for u in units]
    try:
        order = sort_order(keys, descending)
    except TypeError as exc:  # values of different kinds under one key: a checker gap, not a crash
        raise ValueError(f"ranking keys cannot be compared: {exc}") from None
    ordered_units = [units[i] for i in order]
    ordered_keys = [keys[i] for i in order]
    ranks = competition_ranks(ordered_keys)
    return ordered_units, dict(zip(ordered_units, ranks, strict=True)), dict(zip(units, keys, strict=True))


# ------------------------------------------------------------ the whole bloc


#: ``progress(stage, done, total)``: how far evaluation has got, for long runs.
Progress = Callable[[str, int, int], None]
#: Units between two progress reports while validating and scoring.
PROGRESS_EVERY = 1000


def _silent(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


#: The default bloc ranking (SPEC §1.6): `score desc`.
DEFAULT_RANKING = (n.SortKey(n.Name("score"), True),)


def evaluate_bloc(
    compiled: CompiledRuleset,
    case: Case | Mapping[str, Any],
    *,
    explain: bool = False,
    progress: Progress | None = None,
) -> BlocResult:
    """Decide a whole bloc: scores, ranking, titles (quotas, ties) and rotation.

    ``case`` is a `Case` or a CASE mapping (read with `dsl.case.check_case`).
    A bad case raises one `InputError(what="case")` with every problem — its
    structure and every unit's invalid inputs, prefixed by the submission
    (``submissions[2](tham_muu).inputs.members``). Division by zero and an
    exhausted rotation chain raise `EvaluationError`.

    ``progress(stage, done, total)`` is called as the work advances (stages:
    validate, score, titles, rotation) so a caller can show long runs.
    """
    report = progress if progress is not None else _silent
    if isinstance(case, Case):
        violations = _consistency(case)
    else:
        case, violations = check_case(case)
    validated = _validate(compiled, case, violations, report)
    if violations:
        raise InputError(violations, what="case")
    return _decide(compiled, case, validated, explain, report)


def _consistency(case: Case) -> list[FieldViolation]:
    """For a `Case` built in code: the member/submission checks `check_case` would have made."""
    out: list[FieldViolation] = []
    if not case.members:
        out.append(FieldViolation("members", "a bloc needs at least one member"))
    have = {s.unit for s in case.submissions}
    members: set[str] = set()
    for i, unit in enumerate(case.members):
        if unit in members:
            out.append(FieldViolation(f"members[{i}]", f"'{unit}' is listed twice"))
        members.add(unit)
        if unit not in have:
            out.append(FieldViolation(f"members[{i}]", f"member '{unit}' has no submission"))
    seen: set[str] = set()
    for s in case.submissions:
        if s.unit not in members:
            out.append(
                FieldViolation(f"submissions[{s.index}].unit", f"'{s.unit}' is not a member of the bloc")
            )
        if s.unit in seen:
            out.append(FieldViolation(f"submissions[{s.index}].unit", f"a second submission for '{s.unit}'"))
        seen.add(s.unit)
    return out


def _validate(
    compiled: CompiledRuleset, case: Case, violations: list[FieldViolation], report: Progress
) -> dict[str, dict[str, Any]]:
    """Every submission validated against the ruleset; violations appended with the submission's path."""
    validated: dict[str, dict[str, Any]] = {}
    total = len(case.submissions)
    for i, sub in enumerate(case.submissions):
        if i % PROGRESS_EVERY == 0:
            report("validate", i, total)
        try:
            validated[sub.unit] = compiled.validate(sub.inputs, unit=sub.unit)
        except InputError as exc:
            for v in exc.violations:
                where = (
                    v.field if v.field == "inputs" or v.field.startswith("inputs.") else f"inputs.{v.field}"
                )
                violations.append(FieldViolation(f"{sub.path}.{where}", v.message))
    return validated


def _decide(
    compiled: CompiledRuleset,
    case: Case,
    validated: Mapping[str, Mapping[str, Any]],
    explain: bool,
    report: Progress,
) -> BlocResult:
    """The decisions proper, on a valid case: aggregates, scores, ranking, titles, rotation."""
    plan = compiled.plan
    rs = compiled.ruleset
    units = list(case.members)
    aggs = None
    if plan.aggregates:
        aggs = compiled.bloc_aggregates([validated[u] for u in units], units=units)
    results: dict[str, UnitResult] = {}
    passed: dict[str, tuple[tuple[bool | None, ...], ...]] = {}
    for i, u in enumerate(units):
        if i % PROGRESS_EVERY == 0:
            report("score", i, len(units))
        results[u], passed[u] = compiled.score_in_bloc(validated[u], unit=u, bloc=aggs, explain=explain)
    keys = KeyEvaluator(plan, aggs)

    ranking = rs.first(n.Ranking)
    sort_keys: tuple[n.SortKey, ...] = ranking.keys if ranking is not None else DEFAULT_RANKING
    descending = tuple(k.descending for k in sort_keys)
    try:
        order, ranks, bloc_keys = rank_units(
            units, lambda u: keys.key(sort_keys, results[u].values, u, "ranking"), descending
        )
    except ValueError as exc:
        raise EvaluationError(str(exc), where="ranking", span=ranking.span if ranking else None) from None

    decider = TitleDecider(compiled, results, passed, order, ranks, bloc_keys, keys, explain)
    awards: dict[str, TitleAward] = {}
    for i, tp in enumerate(plan.titles):
        report("titles", i, len(plan.titles))
        awards[tp.title.name] = decider.decide(i, tp)
    report("titles", len(plan.titles), len(plan.titles))

    stages = {s.unit: s.stage for s in case.submissions}
    unit_results = tuple(
        replace(results[u], rank=ranks[u], titles=decider.statuses[u], stage=stages.get(u)) for u in order
    )
    rotation = None
    rot = rs.first(n.Rotation)
    if rot is not None:
        ctx = RotationContext(
            members=case.members,
            ranking=tuple(order),
            ranks=ranks,
            scores={u: r.score for u, r in results.items()},
            levels={u: r.level for u, r in results.items()},
            awarded={name: frozenset(a.awarded) for name, a in awards.items()},
            current=case.current,
            elected=case.elected,
            history=case.history,
        )
        source = compiled.source if rot.span.file in (compiled.path, "<string>") else None
        source = compiled.sources.get(rot.span.file, source)
        report("rotation", 0, 1)
        rotation = decide_rotation(rot, ctx, evaluator(ctx, plan.enum_values), source or None)
        report("rotation", 1, 1)
    return BlocResult(
        ruleset=compiled.ref,
        bloc=case.bloc,
        period=case.period,
        units=unit_results,
        titles=awards,
        rotation=rotation,
    )


class KeyEvaluator:
    """Values of ranking keys (numbers or dates, as the checker demands) for one unit.

    A bare name is read straight from the unit's values (the common case,
    and the fast one for large blocs); anything else goes through the
    interpreter, with the bloc's aggregates available.
    """

    def __init__(self, plan: Plan, aggs: BlocAggregates | None) -> None:
        self.plan = plan
        self.bloc = (
            {call: aggs.values[i] for i, call in enumerate(plan.aggregates)} if aggs is not None else None
        )

    def key(self, sort_keys: Sequence[n.SortKey], scope: Mapping[str, Any], unit: str, what: str) -> Key:
        return tuple(self.value(k.expr, scope, unit, what) for k in sort_keys)

    def value(self, expr: n.Expr, scope: Mapping[str, Any], unit: str, what: str) -> Any:
        if isinstance(expr, n.Name) and expr.id in scope:
            return scope[expr.id]
        env = MapEnv(scope, bloc=self.bloc, enum_values=self.plan.enum_values, rounding_mode=self.plan.mode)
        try:
            return evaluate(expr, env)
        except EvaluationError as exc:
            raise EvaluationError(exc.message, where=f"{what} key", span=expr.span, unit=unit) from None


class TitleDecider:
    """Titles decided in declaration order for the whole bloc; statuses collected per unit.

    Requirements that depend only on the unit come from the compiled unit
    evaluation (``passed``); only those reading ``rank``/``bloc_size`` or an
    earlier title ("was awarded") are evaluated here, by the interpreter.
    """

    def __init__(
        self,
        compiled: CompiledRuleset,
        results: Mapping[str, UnitResult],
        passed: Mapping[str, tuple[tuple[bool | None, ...], ...]],
        order: Sequence[str],
        ranks: Mapping[str, int],
        bloc_keys: Mapping[str, Key],
        keys: KeyEvaluator,
        explain: bool,
    ) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.results = results
        self.passed = passed
        self.order = order
        self.ranks = ranks
        self.bloc_keys = bloc_keys
        self.keys = keys
        self.bloc = keys.bloc
        self.explain = explain
        self.size = Decimal(len(order))
        self.awarded: dict[str, set[str]] = {}
        self.statuses: dict[str, dict[str, TitleResult]] = {u: {} for u in order}

    def _extra(self, unit: str, earlier: Sequence[str]) -> dict[str, Any]:
        extra: dict[str, Any] = {"rank": Decimal(self.ranks[unit]), "bloc_size": self.size}
        for name in earlier:
            extra[name] = unit in self.awarded[name]
        return extra

    def _outcome(self, tp: TitlePlan, rp: RequirePlan, unit: str, env: _RequireEnv) -> bool:
        try:
            return bool(evaluate(rp.require.expr, env))
        except EvaluationError as exc:
            raise EvaluationError(
                exc.message, where=f"title '{tp.title.name}'", span=rp.require.span, unit=unit
            ) from None

    def _eligible(self, ti: int, tp: TitlePlan, unit: str, earlier: Sequence[str]) -> bool:
        """Whether every requirement holds, stopping at the first that does not."""
        env: _RequireEnv | None = None
        for rp, outcome in zip(tp.requires, self.passed[unit][ti], strict=True):
            if rp.needs_rank or rp.titles or outcome is None:
                if env is None:
                    extra = self._extra(unit, earlier)
                    env = _RequireEnv(extra, self.results[unit].values, self.plan, self.bloc)
                outcome = self._outcome(tp, rp, unit, env)
            if not outcome:
                return False
        return True

    def _requires(
        self, ti: int, tp: TitlePlan, unit: str, extra: Mapping[str, Any]
    ) -> tuple[RequireResult, ...]:
        """Every requirement of one title for one unit, each passed or failed, with the values it used."""
        values = self.results[unit].values
        env: _RequireEnv | None = None
        out = []
        for rp, unit_level in zip(tp.requires, self.passed[unit][ti], strict=True):
            outcome = unit_level
            if rp.needs_rank or rp.titles or outcome is None:
                if env is None:
                    env = _RequireEnv(extra, values, self.plan, self.bloc)
                outcome = self._outcome(tp, rp, unit, env)
            used: dict[str, Any] = {}
            if self.explain:
                for name in rp.names:
                    if name in extra:
                        used[name] = extra[name]
                    elif name in values:
                        used[name] = values[name]
            out.append(RequireResult(rp.text, rp.require.reason, outcome, used, rp.require.span.line))
        return tuple(out)

    def decide(self, ti: int, tp: TitlePlan) -> TitleAward:
        title = tp.title
        earlier = list(self.awarded)
        requires: dict[str, tuple[RequireResult, ...]] = {}
        eligible: list[str] = []
        for unit in self.order:
            if self.explain:
                rr = self._requires(ti, tp, unit, self._extra(unit, earlier))
                requires[unit] = rr
                ok = all(r.passed is True for r in rr)
            else:
                # Without explanations only the status is reported (as `score` does), so stop at
                # the first failed requirement.
                ok = self._eligible(ti, tp, unit, earlier)
            if ok:
                eligible.append(unit)
        if title.rank_by is None:
            # Eligible units are already in bloc ranking order; their keys are the bloc's keys.
            ordered = eligible
            keys = [self.bloc_keys[u] for u in ordered]
        else:
            sort_keys = title.rank_by
            raw = [
                self.keys.key(
                    sort_keys,
                    {**self.results[u].values, **self._extra(u, earlier)},
                    u,
                    f"title '{title.name}' rank by",
                )
                for u in eligible
            ]
            try:
                idx = sort_order(raw, tuple(k.descending for k in sort_keys))
            except TypeError as exc:
                raise EvaluationError(
                    f"`rank by` keys cannot be compared: {exc}",
                    where=f"title '{title.name}'",
                    span=title.span,
                ) from None
            ordered = [eligible[i] for i in idx]
            keys = [raw[i] for i in idx]
        quota = title.quota
        limit = quota_limit(quota.count, quota.percent, len(self.order)) if quota is not None else None
        statuses = quota_statuses(keys, limit)
        by_unit = dict(zip(ordered, statuses, strict=True))
        awarded = [u for u in ordered if by_unit[u] == AWARDED]
        tied = [u for u in ordered if by_unit[u] == TIED]
        over = [u for u in ordered if by_unit[u] == OVER_QUOTA]
        self.awarded[title.name] = set(awarded)
        over_note = f"eligible, but the quota of {limit} is filled by better-ranked units"
        # Without explanations a status carries no per-unit detail: one shared (frozen) record each.
        shared = {
            st: TitleResult(title.name, title.label, st, (), over_note if st == OVER_QUOTA else None)
            for st in (AWARDED, NOT_ELIGIBLE, OVER_QUOTA)
        }
        tie_note = _tie_note(tied, limit)
        for unit in self.order:
            status = by_unit.get(unit, NOT_ELIGIBLE)
            if status == TIED:
                result = TitleResult(title.name, title.label, TIED, requires.get(unit, ()), tie_note(unit))
            elif self.explain:
                note = over_note if status == OVER_QUOTA else None
                result = TitleResult(title.name, title.label, status, requires[unit], note)
            else:
                result = shared[status]
            self.statuses[unit][title.name] = result
        return TitleAward(title.name, title.label, limit, tuple(awarded), tuple(tied), tuple(over))


def _tie_note(tied: Sequence[str], limit: int | None) -> Callable[[str], str]:
    """The note on a tied unit: who it is tied with (named when few, counted when many)."""
    tail = f"at the quota boundary (quota {limit}); none awarded — to be decided by a vote"
    if len(tied) > 6:
        # Naming every other unit would cost O(k²) text for a tie group of k units.
        return lambda unit: f"one of {len(tied)} units tied {tail}"
    return lambda unit: "tied with " + ", ".join(u for u in tied if u != unit) + " " + tail


class _RequireEnv(MapEnv):
    """A requirement's scope in a bloc: ``rank``, ``bloc_size`` and earlier titles (awarded?) first,
    then the unit's values, enum/level values, and the bloc's aggregates."""

    def __init__(
        self,
        extra: Mapping[str, Any],
        values: Mapping[str, Any],
        plan: Plan,
        bloc: Mapping[n.Call, Decimal] | None,
    ) -> None:
        super().__init__(values, bloc=bloc, enum_values=plan.enum_values, rounding_mode=plan.mode)
        self.extra = extra

    def lookup(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        return super().lookup(name)
