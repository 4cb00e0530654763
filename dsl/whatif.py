"""What it takes: the smallest changes to a unit's inputs that would flip an outcome.

This module owns the answer to "why not us, and what would it have taken?"
for one unit and one target — a title (eligibility alone, or the award
within a bloc when a case is given) or a classification level (that level or
a better one). For every condition of the target (each ``require`` of a
title; a level's ``when`` and ``not unless``) that fails, and for the whole
target, it finds per input the smallest change that makes it hold, checked
against the input's declared type and constraints, and says when nothing
within the input's range would do.

How: each input is searched along its own axis (`dsl.search`): exact when
the evaluation is linear in that input, a bounded search said as such when
it is not; every candidate is verified on the real evaluator, alone or
within the bloc.

When no single change reaches the whole target, a combination is built
greedily — the best change for the first failing condition, then for the
next one given that change, … — and verified as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl import runtime as rt
from dsl.case import Case
from dsl.errors import EvaluationError, FieldViolation, InputError
from dsl.interpreter import MapEnv, evaluate
from dsl.results import AWARDED, NOT_ELIGIBLE, RulesetRef, fmt_decimal
from dsl.search import AxisSearch, Change, Limit, Outcome, Probe, freeze, ranking_keys, show_value

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

__all__ = ["Change", "ConditionAnswer", "Limit", "Target", "WhatIf", "resolve_target", "what_it_takes"]


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class ConditionAnswer:
    """One condition of the target: its outcome now and, when it fails, what would make it hold."""

    text: str
    reason: str | None
    passed: bool | None
    now: str = ""
    gap: str = ""
    changes: tuple[Change, ...] = ()
    limits: tuple[Limit, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.text, "reason": self.reason, "passed": self.passed}
        for key, value in (("now", self.now), ("gap", self.gap), ("note", self.note)):
            if value:
                out[key] = value
        if self.passed is not True:
            out["changes"] = [c.to_json() for c in self.changes]
            out["cannot"] = [x.to_json() for x in self.limits]
        return out


@dataclass(frozen=True, slots=True)
class Target:
    """What the unit wants: a ``title`` (awarded in a bloc, eligible alone) or a ``level`` or better."""

    kind: str
    name: str
    label: str


@dataclass(frozen=True)
class WhatIf:
    """The whole answer for one unit and one target."""

    ruleset: RulesetRef
    unit: str | None
    target: Target
    in_bloc: bool
    status: str
    reached: bool
    conditions: tuple[ConditionAnswer, ...]
    single: tuple[Change, ...] = ()
    combined: tuple[Change, ...] = ()
    combined_reaches: bool = False
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset.to_json(),
            "unit": self.unit,
            "target": {"kind": self.target.kind, "name": self.target.name, "label": self.target.label},
            "in_bloc": self.in_bloc,
            "status": self.status,
            "reached": self.reached,
            "conditions": [c.to_json() for c in self.conditions],
            "single_changes": [c.to_json() for c in self.single],
            "combined": {"changes": [c.to_json() for c in self.combined], "reaches": self.combined_reaches},
            "notes": list(self.notes),
        }


# ------------------------------------------------------------------ conditions and outcomes


@dataclass(frozen=True, slots=True)
class _Condition:
    text: str
    reason: str | None
    expr: n.Expr
    negate: bool = False


def resolve_target(compiled: CompiledRuleset, *, title: str | None, level: str | None) -> Target:
    """The `Target` named on the command line; an unknown name is an `InputError` with a suggestion."""
    import difflib

    def unknown(what: str, name: str, known: Sequence[str]) -> InputError:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(known) or "none"
        return InputError(
            [FieldViolation(what, f"the ruleset has no {what} '{name}'{hint} (it has: {listing})")],
            what="what-if question",
        )

    if (title is None) == (level is None):
        raise InputError(
            [FieldViolation("target", "name exactly one title or one level")], "what-if question"
        )
    if title is not None:
        titles = {t.name: t for t in compiled.ruleset.titles}
        if title not in titles:
            raise unknown("title", title, list(titles))
        return Target("title", title, titles[title].label)
    levels = {lv.name: lv for lv in compiled.plan.levels}
    assert level is not None
    if level not in levels:
        raise unknown("level", level, list(levels))
    return Target("level", level, levels[level].label)


def _conditions(compiled: CompiledRuleset, target: Target) -> tuple[_Condition, ...]:
    from dsl.format import format_expr

    if target.kind == "title":
        tp = next(x for x in compiled.plan.titles if x.title.name == target.name)
        return tuple(
            _Condition(rp.text or format_expr(rp.require.expr), rp.require.reason, rp.require.expr)
            for rp in tp.requires
        )
    lv = next(x for x in compiled.plan.levels if x.name == target.name)
    out: list[_Condition] = []
    if lv.when is not None:
        out.append(_Condition(format_expr(lv.when), f"when of level {lv.name}", lv.when))
    if lv.unless is not None:
        out.append(
            _Condition(f"not ({format_expr(lv.unless)})", f"unless of level {lv.name}", lv.unless, True)
        )
    return tuple(out)


class _Ranker:
    """A unit's bloc rank from its own ranking keys against the others' (which its inputs do not move)."""

    def __init__(self, names: Sequence[str], descending: Sequence[bool], others: Sequence[tuple[Any, ...]]):
        self.names = tuple(names)
        self.descending = tuple(descending)
        self.others = tuple(others)
        self.size = len(others) + 1

    @classmethod
    def of(cls, compiled: CompiledRuleset, case: Case, unit: str | None) -> _Ranker | None:
        keys = ranking_keys(compiled.ruleset)
        if not all(isinstance(k.expr, n.Name) for k in keys):
            return None  # computed keys: the whole bloc decides
        names = [k.expr.id for k in keys if isinstance(k.expr, n.Name)]
        from dsl.bloc import evaluate_bloc

        result = evaluate_bloc(compiled, case)
        others = [tuple(u.values.get(x) for x in names) for u in result.units if u.unit != unit]
        return cls(names, [k.descending for k in keys], others)

    def describe(self, values: Mapping[str, Any]) -> str:
        """``ranked 4 of 6 (score 90.40); first: score 102.88, votes_for 10`` — for a failed rank condition."""
        mine = ", ".join(f"{k} {show_value(values.get(k))}" for k in self.names)
        best = self.others[0] if self.others else None
        for other in self.others[1:]:
            for a, b, desc in zip(other, best or (), self.descending, strict=False):
                if a == b:
                    continue
                if (a > b) == desc:
                    best = other
                break
        first = ", ".join(f"{k} {show_value(v)}" for k, v in zip(self.names, best or (), strict=False))
        return f"ranked {self.rank(values)} of {self.size} ({mine}); the best of the others: {first}"

    def rank(self, values: Mapping[str, Any]) -> int | None:
        """Competition rank: one more than the units strictly ahead on the keys."""
        mine = tuple(values.get(x) for x in self.names)
        ahead = 0
        for other in self.others:
            for a, b, desc in zip(other, mine, self.descending, strict=True):
                if a == b:
                    continue
                if (a > b) == desc:
                    ahead += 1
                break
        return ahead + 1


class _Probe:
    # Implements dsl.search.Probe.
    """Evaluates the target for changed inputs of the unit (alone, or within its bloc); cached."""

    def __init__(
        self,
        compiled: CompiledRuleset,
        target: Target,
        conditions: tuple[_Condition, ...],
        unit: str | None,
        case: Case | None,
        aggs: rt.BlocAggregates | None = None,
        ranker: _Ranker | None = None,
    ) -> None:
        self.compiled = compiled
        self.aggs = aggs
        self.ranker = ranker
        self.prefilter: _Probe | None = None
        self.plan = compiled.plan
        self.target = target
        self.conditions = conditions
        self.unit = unit
        self.case = case
        self.cache: dict[Any, Outcome | str] = {}
        self.level_order = [lv.name for lv in compiled.plan.levels]

    def outcome(self, inputs: Mapping[str, Any]) -> Outcome | str:
        """The outcome, or the words of the input violation that makes ``inputs`` impossible."""
        key = freeze(inputs)
        found = self.cache.get(key)
        if found is None:
            found = self._evaluate(inputs)
            self.cache[key] = found
        return found

    def _evaluate(self, inputs: Mapping[str, Any]) -> Outcome | str:
        try:
            validated = self.compiled.validate(inputs, unit=self.unit)
        except InputError as exc:
            return "; ".join(f"{v.field} {v.message}" for v in exc.violations)
        extra: dict[str, Any] | None = None
        if self.case is None:
            result = self.compiled.score(
                validated,
                unit=self.unit,
                validated=True,
                explain=self.target.kind == "title" and self.ranker is None,
                bloc=self.aggs,
            )
            if self.ranker is not None:
                rank = self.ranker.rank(result.values)
                extra = {"bloc_size": Decimal(self.ranker.size)}
                if rank is not None:
                    extra["rank"] = Decimal(rank)
        else:
            if self.prefilter is not None:
                # Being awarded needs every requirement: when the unit alone (ranked against the
                # others' fixed keys) already fails one, the bloc need not be decided again.
                quick = self.prefilter.outcome(inputs)
                if isinstance(quick, Outcome) and any(p is False for p in quick.passed):
                    return replace(quick, reached=False, status=NOT_ELIGIBLE)
            subs = tuple(
                replace(s, inputs=validated) if s.unit == self.unit else s for s in self.case.submissions
            )
            from dsl.bloc import evaluate_bloc

            try:
                bloc = evaluate_bloc(self.compiled, replace(self.case, submissions=subs))
            except InputError as exc:
                return "; ".join(f"{v.field} {v.message}" for v in exc.violations)
            result = next(u for u in bloc.units if u.unit == self.unit)
            extra = {"rank": Decimal(result.rank or 0), "bloc_size": Decimal(len(bloc.units))}
            extra.update({t: r.status == AWARDED for t, r in result.titles.items()})
        groups = {g.name: (result.groups[g.name], g.max.value) for g in self.plan.groups}
        if self.target.kind == "title":
            tr = result.titles[self.target.name]
            if extra is None:
                passed = tuple(r.passed for r in tr.requires)
            else:
                # Within a bloc: rank, bloc size and earlier awards as the bloc decided them.
                rr = self.compiled.require_results(
                    self.target.name, result.values, extra, explain=False, bloc=self.aggs
                )
                passed = tuple(r.passed for r in rr)
            if self.case is not None:
                reached = tr.status == AWARDED
            else:
                reached = all(p is not False for p in passed) and (
                    tr.status != NOT_ELIGIBLE or extra is not None
                )
            return Outcome(reached, tr.status, passed, result.values, groups)
        passed = tuple(self._holds(c, result.values) for c in self.conditions)
        level = result.level
        reached = level in self.level_order and self.level_order.index(level) <= self.level_order.index(
            self.target.name
        )
        return Outcome(reached, level, passed, result.values, groups)

    def _holds(self, c: _Condition, values: Mapping[str, Any]) -> bool | None:
        try:
            v = bool(evaluate(c.expr, MapEnv(values, enum_values=self.plan.enum_values)))
        except EvaluationError:
            return None
        return (not v) if c.negate else v


# ------------------------------------------------------------------ dependencies


def _inputs_of(plan: rt.Plan, exprs: Sequence[n.Expr], extra: Sequence[str] = ()) -> list[str]:
    """The inputs the expressions depend on (through lets, criteria, groups, score, level, titles)."""
    sections: dict[str, list[n.Criterion]] = {g.name: list(g.criteria) for g in plan.groups}
    sections["bonus"] = list(plan.bonus.criteria) if plan.bonus else []
    sections["penalty"] = list(plan.penalty.criteria) if plan.penalty else []
    criteria = {c.name: c for c, _ in plan.criteria}
    titles = {tp.title.name: tp for tp in plan.titles}
    seen: set[str] = set()
    stack = [x for e in exprs for x in rt.referenced_names(e, plan.list_fields)] + list(extra)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        kind = plan.kinds.get(name)
        if kind == "let":
            stack += rt.referenced_names(plan.lets[name].expr, plan.list_fields)
        elif kind == "criterion":
            stack += rt.referenced_names(criteria[name].expr, plan.list_fields)
        elif kind in ("group", "bonus", "penalty"):
            stack += [c.name for c in sections.get(name, [])]
        elif kind == "score":
            if plan.score_def is not None:
                stack += rt.referenced_names(plan.score_def.expr, plan.list_fields)
            else:
                stack += [g.name for g in plan.groups] + ["bonus", "penalty"]
        elif kind == "level":
            for lv in plan.levels:
                for e in (lv.when, lv.unless):
                    if e is not None:
                        stack += rt.referenced_names(e, plan.list_fields)
        elif name in titles:
            for rp in titles[name].requires:
                stack += list(rp.names)
        elif name == "rank":
            for k in ranking_keys(plan.ruleset):
                stack += rt.referenced_names(k.expr, plan.list_fields)
    return [i.name for i in plan.inputs if i.name in seen]


# ------------------------------------------------------------------ the answer


def what_it_takes(
    compiled: CompiledRuleset,
    inputs: Mapping[str, Any],
    target: Target,
    *,
    unit: str | None = None,
    case: Case | None = None,
    only: Sequence[str] | None = None,
) -> WhatIf:
    """What it would take for ``unit`` (with ``inputs``) to reach ``target``.

    Alone, a title means eligibility; with ``case`` (the unit's bloc; its own
    submission is replaced by ``inputs``) it means being awarded, with ranks,
    quotas and ties. ``only`` restricts the inputs that may change. Raises
    `InputError` when ``inputs`` are invalid and `EvaluationError` when the
    ruleset cannot score them (e.g. it needs the bloc and none is given).
    """
    base = compiled.validate(inputs, unit=unit)
    conditions = _conditions(compiled, target)
    probe = _Probe(compiled, target, conditions, unit, case)
    now = probe.outcome(base)
    if isinstance(now, str):  # pragma: no cover - base was validated above
        raise InputError([FieldViolation("inputs", now)])
    searcher = AxisSearch(probe, case)
    # Conditions that do not need the rest of the bloc are searched on the unit alone (with the
    # bloc's aggregates): a unit scores in a fraction of the time a whole bloc is decided.
    ranker = _Ranker.of(compiled, case, unit) if case is not None and not compiled.plan.aggregates else None
    local = whole = searcher
    # With bloc aggregates a unit's inputs move the whole bloc's values: only deciding the
    # whole bloc again is right, so the shortcuts below are for rulesets without them.
    if case is not None and not compiled.plan.aggregates:
        alone = _Probe(compiled, target, conditions, unit, None, searcher.bloc_aggs, ranker)
        local = searcher.with_probe(alone)
        if target.kind == "title":
            # For the whole title only: a unit failing a requirement alone is not awarded.
            quick = _Probe(compiled, target, conditions, unit, case)
            quick.prefilter = alone
            whole = searcher.with_probe(quick)
    notes: list[str] = []
    if searcher.approximate:
        notes.append("bloc aggregates are held at their current values while tracing; results are verified")
    allowed = set(only) if only is not None else None
    if allowed is not None:
        unknown = sorted(allowed - set(searcher.inputs))
        if unknown:
            raise InputError([FieldViolation("inputs", f"not an input of the ruleset: {', '.join(unknown)}")])

    def candidates(exprs: Sequence[n.Expr], extra: Sequence[str] = ()) -> list[str]:
        names = _inputs_of(compiled.plan, exprs, extra)
        return [x for x in names if allowed is None or x in allowed]

    answers: list[ConditionAnswer] = []
    for i, c in enumerate(conditions):
        passed = now.passed[i]
        shown, gap = _sides(compiled, c, now)
        if not gap and ranker is not None and passed is False and _has_bloc_word(c.expr):
            gap = ranker.describe(now.values)
        if passed is True:
            answers.append(ConditionAnswer(c.text, c.reason, True, now=shown))
            continue
        if passed is None and case is None:
            answers.append(
                ConditionAnswer(
                    c.text,
                    c.reason,
                    None,
                    now=shown,
                    note="needs the bloc (rank, bloc size or an earlier award): give the case",
                )
            )
            continue
        extra = ["rank"] if case is not None and _needs_rank(compiled, c.expr) else []
        which = searcher if _needs_awards(compiled, c.expr) or (extra and ranker is None) else local
        changes, limits = _options(
            which, base, candidates([c.expr], extra), _condition_ok(i), now, conditions, focus=i
        )
        answers.append(
            ConditionAnswer(c.text, c.reason, passed, now=shown, gap=gap, changes=changes, limits=limits)
        )

    single: tuple[Change, ...] = ()
    combined: list[Change] = []
    reaches = False
    if not now.reached:
        every = [c.expr for c in conditions]
        extra = ["rank"] if case is not None and target.kind == "title" else []
        if target.kind == "level":
            extra.append("level")
        single, _ = _options(whole, base, candidates(every, extra), lambda o: o.reached, now, conditions)
        if not single:
            combined, reaches = _combine(searcher, local, whole, base, conditions, candidates, extra)
    if case is None and target.kind == "title" and any(p is None for p in now.passed):
        notes.append("some requirements need the bloc; with a case the answer covers rank, quota and ties")
    return WhatIf(
        ruleset=compiled.ref,
        unit=unit,
        target=target,
        in_bloc=case is not None,
        status=now.status,
        reached=now.reached,
        conditions=tuple(answers),
        single=single,
        combined=tuple(combined),
        combined_reaches=reaches,
        notes=tuple(notes),
    )


def _condition_ok(i: int) -> Callable[[Outcome], bool]:
    return lambda o: o.passed[i] is True


def _needs_rank(compiled: CompiledRuleset, expr: n.Expr) -> bool:
    names = rt.referenced_names(expr, compiled.plan.list_fields)
    titles = {t.name for t in compiled.ruleset.titles}
    return any(x in rt.BLOC_NAMES or x in titles for x in names)


def _options(
    searcher: AxisSearch,
    base: Mapping[str, Any],
    names: Sequence[str],
    ok: Callable[[Outcome], bool],
    now: Outcome,
    conditions: Sequence[_Condition],
    focus: int | None = None,
) -> tuple[tuple[Change, ...], tuple[Limit, ...]]:
    """Per input, the smallest change satisfying ``ok``; inputs that cannot, with why.

    ``shows`` of each change gives the sides of condition ``focus`` after it
    (of every condition that failed before, when None).
    """
    changes: list[Change] = []
    limits: list[Limit] = []
    decls = searcher.inputs
    for name in names:
        ty = decls[name].type
        number = isinstance(ty, n.SimpleType) and ty.name in ("int", "decimal", "date")
        found = searcher.number(base, name, ok) if number else searcher.other(base, name, ok)
        if found is None:
            continue
        if isinstance(found, Limit):
            limits.append(found)
            continue
        after = searcher.probe.outcome({**base, name: found.after})
        breaks: tuple[str, ...] = ()
        shows = ""
        if not isinstance(after, str):
            breaks = tuple(
                c.text
                for c, p0, p1 in zip(conditions, now.passed, after.passed, strict=True)
                if p0 is True and p1 is False
            )
            shown = [
                _sides(searcher.compiled, c, after)[0]
                for j, (c, p0) in enumerate(zip(conditions, now.passed, strict=True))
                if p0 is not True and (focus is None or j == focus)
            ]
            shows = "; ".join(x for x in shown if x)
        changes.append(replace(found, breaks=breaks, shows=shows))
    changes.sort(key=lambda c: (len(c.breaks), c.size(), c.input))
    return tuple(changes), tuple(limits)


def _combine(
    searcher: AxisSearch,
    local: AxisSearch,
    whole: AxisSearch,
    base: Mapping[str, Any],
    conditions: Sequence[_Condition],
    candidates: Callable[[Sequence[n.Expr], Sequence[str]], list[str]],
    extra: Sequence[str],
) -> tuple[list[Change], bool]:
    """Greedy: fix the first failing condition with its best change, then the next, … verified."""
    probe = searcher.probe
    current = dict(base)
    applied: list[Change] = []
    stuck: set[int] = set()
    for _ in range(len(conditions) + len(searcher.inputs)):
        o = probe.outcome(current)
        if isinstance(o, str):
            return applied, False
        if o.reached:
            return _prune(probe, base, applied), True
        # None: an earlier award the quick check could not decide — not a failure to fix.
        failing = [i for i, p in enumerate(o.passed) if p is False]
        changes: tuple[Change, ...]
        if failing:
            i = failing[0]
            expr = conditions[i].expr
            bloc = searcher.probe is not local.probe and _needs_rank(searcher.compiled, expr)
            names = candidates([expr], list(extra) if bloc else [])
            ranked = getattr(local.probe, "ranker", None) is not None
            which = searcher if _needs_awards(searcher.compiled, expr) or (bloc and not ranked) else local
            if i in stuck:  # no single change fixed it last round: keep making progress instead
                changes = ()
            else:
                changes, _ = _options(which, current, names, _condition_ok(i), o, conditions, focus=i)
                if not changes:
                    stuck.add(i)
        else:  # every condition holds but the award does not (quota, tie): rank better
            changes, _ = _options(
                whole, current, candidates([], list(extra)), lambda x: x.reached, o, conditions
            )
        changes = tuple(c for c in changes if c.input not in {a.input for a in applied}) or changes
        if not changes:
            # No single change fixes it: make the most progress on the quantity it compares.
            i = failing[0] if failing else -1
            measure = _progress(searcher.compiled, conditions[i] if failing else None)
            if measure is None:
                return applied, False
            names = candidates([conditions[i].expr] if failing else [], list(extra))
            gains = [
                g
                for x in names
                if x not in {a.input for a in applied}
                if (g := local.gain(current, x, measure))
            ]
            if not gains:
                return applied, False
            changes = (max(gains, key=lambda g: g[0])[1],)
        best = changes[0]
        applied.append(replace(best, before=base[best.input]))
        current[best.input] = best.after
    o = probe.outcome(current)
    return applied, not isinstance(o, str) and o.reached


def _prune(probe: Probe, base: Mapping[str, Any], applied: list[Change]) -> list[Change]:
    """Drop changes the combination does not need (greedy steps can overshoot); still verified."""
    kept = list(applied)
    for change in reversed(applied):
        trial = [c for c in kept if c is not change]
        inputs = {**base, **{c.input: c.after for c in trial}}
        o = probe.outcome(inputs)
        if not isinstance(o, str) and o.reached:
            kept = trial
    return kept


def _progress(compiled: CompiledRuleset, c: _Condition | None) -> Callable[[Outcome], Decimal | None] | None:
    """What counts as progress towards a condition: its compared quantity, or the first ranking key."""
    e = c.expr if c is not None else None
    if e is not None and isinstance(e, n.Binary) and e.op in ("<", "<=", ">", ">="):
        sign = 1 if e.op in (">", ">=") else -1
        env_of = compiled.plan.enum_values
        if not _has_bloc_word(e):

            def margin(o: Outcome) -> Decimal | None:
                try:
                    env = MapEnv(o.values, enum_values=env_of)
                    diff = evaluate(e.left, env) - evaluate(e.right, env)
                except (EvaluationError, TypeError):
                    return None
                return diff * sign if isinstance(diff, Decimal) else None

            return margin
    # rank, quota, ties: the bloc ranking's first key, in its direction
    key = ranking_keys(compiled.ruleset)[0]
    if not isinstance(key.expr, n.Name):
        return None
    name, desc = key.expr.id, key.descending

    def first_key(o: Outcome) -> Decimal | None:
        v = o.values.get(name)
        return (v if desc else -v) if isinstance(v, Decimal) else None

    return first_key


def _needs_awards(compiled: CompiledRuleset, expr: n.Expr) -> bool:
    titles = {t.name for t in compiled.ruleset.titles}
    return any(x in titles for x in rt.referenced_names(expr, compiled.plan.list_fields))


def _has_bloc_word(expr: n.Expr) -> bool:
    return any(isinstance(x, n.Name) and x.id in rt.BLOC_NAMES for x in rt.walk(expr))


def _sides(compiled: CompiledRuleset, c: _Condition, o: Outcome) -> tuple[str, str]:
    """A comparison's two sides as values (``14 >= 14.00``) and, when it fails, the gap in words."""
    e = c.expr
    if not (isinstance(e, n.Binary) and e.op in ("<", "<=", ">", ">=", "==", "!=")):
        return "", ""
    env = MapEnv(o.values, enum_values=compiled.plan.enum_values)
    try:
        left = evaluate(e.left, env)
        right = evaluate(e.right, env)
    except EvaluationError:
        return "", ""
    shown = f"{show_value(left)} {e.op} {show_value(right)}"
    if not (isinstance(left, Decimal) and isinstance(right, Decimal)):
        return shown, ""
    from dsl.format import format_expr

    holds = evaluate(e, env)
    if holds or e.op in ("==", "!="):
        return shown, ""
    need = right - left if e.op in (">", ">=") else left - right
    side = format_expr(e.left)
    more = "more" if e.op in (">", ">=") else "less"
    strict = " (and a little more)" if e.op in (">", "<") else ""
    gap = f"{side} needs {show_value(abs(need))} {more}{strict}"
    if isinstance(e.left, n.Name) and e.left.id in ("score", *(g.name for g in compiled.plan.groups)):
        room = [f"{g} {fmt_decimal(mx - v, compiled.places)}" for g, (v, mx) in o.groups.items() if v < mx]
        if room:
            gap += "; points still open per group: " + ", ".join(room)
    return shown, gap
