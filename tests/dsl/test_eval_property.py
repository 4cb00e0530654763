"""Property: the compiled evaluator and the reference interpreter agree on random rulesets and inputs."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from dsl import runtime as rt
from dsl.api import compile_ruleset
from dsl.errors import EvaluationError, RulesetError
from tests.dsl.strategies_eval import blocs, renamed, rulesets


def _outcome(rs: Any, inputs: dict[str, Any], reference: bool) -> Any:
    try:
        result = rs.score(inputs, explain=True, reference=reference)
    except EvaluationError as exc:
        return ("error", exc.message, exc.where, exc.span)
    return ("ok", result.to_json(explain=True), result.values)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(renamed(rulesets()))
def test_compiled_and_interpreted_agree(case: tuple[str, dict[str, Any]]) -> None:
    """Same result, explanation and values, or the same EvaluationError, for any well-typed ruleset."""
    text, inputs = case
    try:
        rs = compile_ruleset(text, "gen.rules")
    except RulesetError as exc:  # the generator must only make valid rulesets
        raise AssertionError(exc.render() + "\n" + text) from None
    compiled = _outcome(rs, inputs, reference=False)
    reference = _outcome(rs, inputs, reference=True)
    assert reference == compiled, text


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rulesets(max_depth=1))
def test_validated_inputs_score_the_same(case: tuple[str, dict[str, Any]]) -> None:
    """Scoring raw inputs equals validating first, then scoring with validated=True."""
    text, inputs = case
    rs = compile_ruleset(text, "gen.rules")
    first = _outcome(rs, inputs, reference=False)
    try:
        result = rs.score(rs.validate(inputs), validated=True, explain=True)
        second: Any = ("ok", result.to_json(explain=True), result.values)
    except EvaluationError as exc:
        second = ("error", exc.message, exc.where, exc.span)
    assert first == second


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(renamed(blocs()))
def test_bloc_aggregates_agree(case: tuple[str, list[dict[str, Any]]]) -> None:
    """Bloc aggregate terms and every unit's result agree between compiled code and interpreter."""
    text, subs = case
    rs = compile_ruleset(text, "gen.rules")
    validated = [rs.validate(s) for s in subs]
    outcomes = []
    for reference in (False, True):
        try:
            if reference:
                bloc: Any = rt.combine_aggregates(rs.plan, [rs.interpreter.terms(v) for v in validated])
            else:
                bloc = rs.bloc_aggregates(validated)
        except EvaluationError as exc:  # the same failure from both, compared below
            outcomes.append(("terms-error", exc.message, exc.where))
            continue
        units = []
        for v in validated:
            units.append(_outcome_in_bloc(rs, v, bloc))
        outcomes.append(("ok", bloc.values, units))
    assert outcomes[0] == outcomes[1], text


def _outcome_in_bloc(rs: Any, validated: dict[str, Any], bloc: Any) -> Any:
    results = []
    for reference in (False, True):
        try:
            r = rs.score(validated, validated=True, bloc=bloc, explain=True, reference=reference)
            results.append(("ok", r.to_json(explain=True), r.values))
        except EvaluationError as exc:
            results.append(("error", exc.message, exc.where, exc.span))
    assert results[0] == results[1]
    return results[0]
