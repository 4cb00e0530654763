"""The public Python API: compile a ruleset once, then validate and score submissions.

This module owns `CompiledRuleset`, the immutable object every consumer
(the CLI, the gRPC service, bloc evaluation, ``thidua test``) holds: parse →
check → plan → generate code, once; after that `CompiledRuleset.score` is a
pure function of its input and safe to call from many threads at once.

    >>> rs = compile_ruleset(text, "rulesets/khoi3/2023.1.rules")
    >>> result = rs.score({"members": 42, ...}, unit="tham_muu", explain=True)
    >>> result.to_json(explain=True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl import runtime as rt
from dsl.checker import CheckedRuleset, check, require_ok
from dsl.compiler import CompiledEvaluator, compile_plan
from dsl.errors import ERROR, Diagnostic, EvaluationError, RulesetError
from dsl.identity import ruleset_sha256 as identity_sha256
from dsl.inputs import Validator, simple_bound
from dsl.interpreter import MapEnv, PlanEnv, UnitInterpreter, evaluate
from dsl.parser import parse
from dsl.results import (
    CriterionResult,
    Explanation,
    GroupResult,
    LevelDecision,
    LevelStep,
    RequireResult,
    RulesetRef,
    TitleResult,
    UnitResult,
)

if TYPE_CHECKING:
    from dsl.registry import Registry

BlocAggregates = rt.BlocAggregates

__all__ = [
    "BlocAggregates",
    "CompiledRuleset",
    "compile_checked",
    "compile_ruleset",
    "load_ruleset",
    "ruleset_sha256",
]


def ruleset_sha256(ruleset: n.Ruleset, source: str) -> str:
    """The identity of a ruleset in every result (the one place the evaluator computes it).

    ``ruleset`` must be the resolved ruleset as parsed (before checking):
    `dsl.identity` hashes its canonical text, so layout, comments and tests
    do not change it. ``source`` is kept for callers that hash text.
    """
    del source  # the canonical form does not depend on the layout
    return identity_sha256(ruleset)


@dataclass(frozen=True, eq=False)
class CompiledRuleset:
    """A checked, compiled ruleset. Immutable; every method is safe to call concurrently."""

    checked: CheckedRuleset
    source: str
    path: str
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: The identity (`ruleset_sha256` of the resolved, unchecked ruleset); computed when empty.
    identity: str = field(default="", repr=False)
    # Derived in __post_init__:
    name: str = field(init=False)
    version: str = field(init=False)
    sha256: str = field(init=False)
    ref: RulesetRef = field(init=False)
    places: int = field(init=False)
    rounding_mode: str = field(init=False)
    uses_bloc: bool = field(init=False)
    plan: rt.Plan = field(init=False, repr=False)
    evaluator: CompiledEvaluator = field(init=False, repr=False)
    validator: Validator = field(init=False, repr=False)
    interpreter: UnitInterpreter = field(init=False, repr=False)
    # Per title, its requirement-less unit-level results by status (shared: they are immutable).
    _unit_titles: tuple[tuple[str, dict[str, TitleResult]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rs = self.checked.ruleset
        # Requirement texts come from each requirement's own file (inherited ones too), not `source`.
        plan = _with_require_texts(rt.build_plan(rs), self.source, self.path, self.sources)
        set_ = object.__setattr__
        set_(self, "name", rs.name)
        set_(self, "version", rs.version)
        set_(self, "sha256", self.identity or ruleset_sha256(rs, self.source))
        set_(self, "ref", RulesetRef(rs.name, rs.version, self.sha256))
        set_(self, "places", rs.rounding.places)
        set_(self, "rounding_mode", rs.rounding.mode)
        set_(self, "uses_bloc", bool(plan.aggregates))
        set_(self, "plan", plan)
        set_(self, "evaluator", compile_plan(plan))
        set_(self, "interpreter", UnitInterpreter(plan))
        set_(self, "validator", Validator(plan.inputs, lambda e: simple_bound(e, self._bound)))
        set_(
            self,
            "_unit_titles",
            tuple(
                (
                    tp.title.name,
                    {
                        status: TitleResult(tp.title.name, tp.title.label, status, (), _note(status))
                        for status in ("eligible", "not_eligible", "undecided")
                    },
                )
                for tp in plan.titles
            ),
        )

    @property
    def ruleset(self) -> n.Ruleset:
        return self.checked.ruleset

    def _bound(self, e: n.Expr) -> Any:
        plan = self.plan

        def value(values: Mapping[str, Any]) -> Any:
            env = MapEnv(values, enum_values=plan.enum_values, rounding_mode=plan.mode)
            return evaluate(e, env)

        return value

    # ------------------------------------------------------------ inputs
    def validate(self, raw: Mapping[str, Any], *, unit: str | None = None) -> dict[str, Any]:
        """Declared inputs converted (defaults filled); raises `InputError` with every violation.

        The compiled fast path accepts common, valid submissions; anything it
        does not accept goes to the general validator, which decides and
        words every violation.
        """
        if type(raw) is dict:
            try:
                out = self.evaluator.validate(raw)
            except Exception:  # a bound that cannot be evaluated: the general path reports it
                out = None
            if out is not None:
                return out
        return self.validator.validate(raw, unit=unit)

    # ------------------------------------------------------------ bloc
    def bloc_aggregates(
        self, validated: Sequence[Mapping[str, Any]], *, units: Sequence[str] | None = None
    ) -> rt.BlocAggregates:
        """One pass over a bloc's validated inputs: the value of every ``bloc_*`` expression."""
        per_unit = []
        for i, inputs in enumerate(validated):
            unit = units[i] if units is not None and i < len(units) else None
            try:
                per_unit.append(self.evaluator.terms(inputs))
            except Exception as exc:
                raise self.evaluator.translate(exc, unit) from None
        return rt.combine_aggregates(self.plan, per_unit)

    # ------------------------------------------------------------ scoring
    def score(
        self,
        raw_or_validated: Mapping[str, Any],
        *,
        unit: str | None = None,
        explain: bool = False,
        bloc: rt.BlocAggregates | None = None,
        validated: bool = False,
        reference: bool = False,
    ) -> UnitResult:
        """Score one unit. ``validated=True`` skips validation (inputs from `validate`).

        Titles hold unit-level eligibility (``eligible``, ``not_eligible``,
        ``undecided``). ``reference=True`` uses the AST interpreter instead of
        the compiled code (same results, slower; for tests and debugging).
        Raises `InputError` or `EvaluationError`.
        """
        bv = bloc.values if bloc is not None else None
        if not validated and not explain and not reference and type(raw_or_validated) is dict:
            # The common case in one generated function: validation fast path and scoring.
            try:
                fast = self.evaluator.unit_raw(raw_or_validated, bv)
            except Exception as exc:
                info = self.evaluator.info_for(exc.__traceback__)
                if info is None or not info.where.startswith("input "):
                    raise self.evaluator.translate(exc, unit) from None
                fast = None  # a constraint bound failed: the general validator words it
            if fast is not None:
                return self._result(fast, unit, explain)
        inputs = raw_or_validated if validated else self.validate(raw_or_validated, unit=unit)
        if reference:
            try:
                out = self.interpreter.score(inputs, bloc)
            except EvaluationError as exc:
                raise EvaluationError(exc.message, where=exc.where, span=exc.span, unit=unit) from None
        else:
            try:
                out = (self.evaluator.unit_explain if explain else self.evaluator.unit)(inputs, bv)
            except Exception as exc:
                raise self.evaluator.translate(exc, unit) from None
        return self._result(out, unit, explain)

    def score_in_bloc(
        self,
        validated: Mapping[str, Any],
        *,
        unit: str | None,
        bloc: rt.BlocAggregates | None,
        explain: bool = False,
    ) -> tuple[UnitResult, tuple[tuple[bool | None, ...], ...]]:
        """`score` for bloc evaluation (`dsl.bloc`): validated inputs, and each title requirement's outcome.

        The second element holds, per title in plan order, every requirement's
        unit-level outcome from the compiled code: None where it needs the bloc
        (``rank``, ``bloc_size``), and for requirements naming an earlier title
        the outcome under unit-level *eligibility* — a bloc must re-evaluate
        those two kinds (titles mean "awarded" there) and can keep the rest,
        instead of interpreting every requirement of every unit.
        """
        bv = bloc.values if bloc is not None else None
        try:
            out = (self.evaluator.unit_explain if explain else self.evaluator.unit)(validated, bv)
        except Exception as exc:
            raise self.evaluator.translate(exc, unit) from None
        return self._result(out, unit, explain), tuple(passed for _, passed in out[7])

    def _result(self, out: tuple[Any, ...], unit: str | None, explain: bool) -> UnitResult:
        values, crit, groups, bonus, penalty, score, level, titles = out[:8]
        title_results: dict[str, TitleResult] = {}
        if explain:
            eligibility: dict[str, bool | None] = {}
            for tp, (status, passed) in zip(self.plan.titles, titles, strict=True):
                t = tp.title
                requires = tuple(
                    RequireResult(
                        rp.text,
                        rp.require.reason,
                        p,
                        _used(rp, values, eligibility),
                        rp.require.span.line,
                    )
                    for rp, p in zip(tp.requires, passed, strict=True)
                )
                title_results[t.name] = TitleResult(t.name, t.label, status, requires, _note(status))
                eligibility[t.name] = {"eligible": True, "not_eligible": False}.get(status)
        else:
            # Without requirements a title's result is one of three immutable values, built once.
            for (name, by_status), (status, _) in zip(self._unit_titles, titles, strict=True):
                shared = by_status.get(status)
                if shared is None:
                    shared = TitleResult(name, by_status["eligible"].label, status, (), _note(status))
                title_results[name] = shared
        return UnitResult(
            unit=unit,
            ruleset=self.ref,
            places=self.places,
            score=score,
            level=level,
            groups=groups,
            criteria=crit,
            bonus=bonus,
            penalty=penalty,
            titles=title_results,
            values=values,
            explanation=self._explanation(out) if explain else None,
        )

    def _explanation(self, out: tuple[Any, ...]) -> Explanation:
        values = out[0]
        level = out[6]
        raws, rows, totals, steps = out[8:12]
        plan = self.plan
        criteria = []
        for c, section in plan.criteria:
            raw = raws[c.name]
            mx = c.max.value if c.max is not None else None
            clamped = bool(raw < rt.ZERO or (mx is not None and raw > mx))
            criteria.append(
                CriterionResult(c.name, c.label, section, raw, values[c.name], clamped, mx, rows.get(c.name))
            )
        groups = [
            GroupResult(g.name, g.label, totals[g.name], values[g.name], g.max.value) for g in plan.groups
        ]
        if plan.bonus is not None:
            groups.append(
                GroupResult("bonus", plan.bonus.label, totals["bonus"], values["bonus"], plan.bonus.max.value)
            )
        if plan.penalty is not None:
            mx = plan.penalty.max.value if plan.penalty.max is not None else None
            groups.append(
                GroupResult("penalty", plan.penalty.label, totals["penalty"], values["penalty"], mx)
            )
        decision = None
        if plan.levels:
            tried = []
            label = ""
            for lv, (w, u) in zip(plan.levels, steps, strict=True):
                tried.append(LevelStep(lv.name, w, u))
                if lv.name == level:
                    label = lv.label
                    break
            decision = LevelDecision(level, label, tuple(tried))
        lets = {name: values[name] for name in plan.lets}
        return Explanation(tuple(criteria), tuple(groups), decision, lets)

    # ------------------------------------------------------------ titles in a bloc
    def require_results(
        self,
        title: str,
        values: Mapping[str, Any],
        extra: Mapping[str, Any],
        *,
        explain: bool,
        bloc: rt.BlocAggregates | None = None,
    ) -> tuple[RequireResult, ...]:
        """Evaluate one title's requirements for a unit of a bloc.

        ``values`` is the unit's `UnitResult.values`; ``extra`` adds ``rank``,
        ``bloc_size`` and earlier titles (name → awarded bool). A requirement
        whose names are missing from both is undecided (``passed`` None).
        """
        tp = next((x for x in self.plan.titles if x.title.name == title), None)
        if tp is None:
            raise EvaluationError(f"the ruleset has no title '{title}'")
        scope = {**values, **extra}
        env = PlanEnv(self.plan, scope, bloc)
        out = []
        for rp in tp.requires:
            missing = [x for x in rp.names if x not in scope and self.plan.kinds.get(x) is None]
            missing = [x for x in missing if x not in self.plan.enum_values]
            passed: bool | None
            if missing or any(scope.get(t) is None for t in rp.titles) or (rp.has_aggregate and bloc is None):
                passed = None
            else:
                try:
                    passed = bool(evaluate(rp.require.expr, env))
                except EvaluationError as exc:
                    raise EvaluationError(
                        exc.message, where=f"title '{title}'", span=rp.require.span
                    ) from None
            used = {x: scope[x] for x in rp.names if x in scope} if explain else {}
            out.append(RequireResult(rp.text, rp.require.reason, passed, used, rp.require.span.line))
        return tuple(out)


#: Why a unit-level title status is "undecided".
_UNDECIDED_NOTE = "needs the bloc (rank, bloc size or a bloc aggregate)"


def _note(status: str) -> str | None:
    return _UNDECIDED_NOTE if status == "undecided" else None


def _used(
    rp: rt.RequirePlan, values: Mapping[str, Any], eligibility: Mapping[str, bool | None]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in rp.names:
        if name in eligibility:
            out[name] = eligibility[name]
        elif name in values:
            out[name] = values[name]
    return out


def _with_require_texts(plan: rt.Plan, source: str, path: str, sources: Mapping[str, str]) -> rt.Plan:
    """Requirement texts from the file each requirement was written in (inherited ones too)."""
    import dataclasses

    titles = []
    for tp in plan.titles:
        reqs = []
        for rp in tp.requires:
            span = rp.require.expr.span
            text = sources.get(span.file) if span.file != path else source
            reqs.append(dataclasses.replace(rp, text=rt.source_text(text, span) if text else ""))
        titles.append(dataclasses.replace(tp, requires=tuple(reqs)))
    return dataclasses.replace(plan, titles=tuple(titles))


def compile_checked(
    ruleset: n.Ruleset,
    *,
    source: str,
    path: str = "<string>",
    tests: Sequence[n.Test] = (),
    sources: Mapping[str, str] | None = None,
) -> CompiledRuleset:
    """Check and compile an already parsed (and resolved, when it ``extends``) ruleset."""
    checked = require_ok(check(ruleset, source=source, tests=tests, sources=sources), source)
    return CompiledRuleset(checked, source, path, dict(sources or {}), ruleset_sha256(ruleset, source))


def compile_ruleset(
    source: str, path: str = "<string>", *, registry: Registry | None = None
) -> CompiledRuleset:
    """Parse, check and compile ruleset text. Raises `RulesetError` with every diagnostic.

    A ruleset that ``extends`` another finds its parent in ``registry``
    (`dsl.registry.Registry`); without one, ``extends`` is an error.
    """
    sf = parse(source, path)
    if sf.ruleset is None:
        raise RulesetError(
            [Diagnostic(ERROR, "the file declares no ruleset", n.Span(1, 1, 1, 2, path), "no-ruleset")],
            sf.source,
        )
    if sf.ruleset.parent is not None:
        from dsl.inherit import resolve

        resolved = registry.resolve_source(sf) if registry is not None else resolve(sf, None)
        return compile_checked(
            resolved.ruleset, source=sf.source, path=path, tests=sf.tests, sources=resolved.sources
        )
    return compile_checked(sf.ruleset, source=sf.source, path=path, tests=sf.tests)


def load_ruleset(path: str | Path) -> CompiledRuleset:
    """Read, resolve (``extends`` through the registry) and compile a ruleset file."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    sf = parse(text, str(path))
    if sf.ruleset is not None and sf.ruleset.parent is not None:
        from dsl.registry import Registry

        resolved = Registry().resolve_file(p)
        return compile_checked(
            resolved.ruleset, source=sf.source, path=str(path), tests=sf.tests, sources=resolved.sources
        )
    return compile_ruleset(text, str(path))
