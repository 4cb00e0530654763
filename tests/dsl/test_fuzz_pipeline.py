"""Fuzzing the whole pipeline: random rulesets and hostile inputs end in our own errors, never a crash.

What the other property tests leave out: arbitrary (untyped) syntax trees
pushed through format → parse → check → compile → score as one pipeline, and
well-typed rulesets (plus the reference ruleset) scored with inputs of the
wrong shape, type and size. The only exceptions allowed are `ThiduaError`s.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.api import CompiledRuleset, compile_checked, compile_ruleset
from dsl.checker import check
from dsl.errors import EvaluationError, InputError, RulesetError, render
from dsl.format import format_source, format_text
from dsl.nodes import Input, SourceFile
from dsl.parser import parse
from tests.dsl import strategies
from tests.dsl.strategies_eval import rulesets

REFERENCE = Path(__file__).resolve().parents[2] / "rulesets" / "khoi3" / "2023.1.rules"
_SETTINGS = settings(
    max_examples=20, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# JSON-shaped values of every kind a decoded submission can hold, including hostile ones.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["excellent", "good", "2023-02-28", "2023-02-30", "NaN", "1e999999", "-0", "70%"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)


def _hostile_inputs(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries over the ruleset's own input names (and strangers) with any values."""
    keys = st.one_of(st.sampled_from(names), st.text(max_size=10)) if names else st.text(max_size=10)
    return st.dictionaries(keys, json_values, max_size=len(names) + 3)


def _score_only_our_errors(rs: CompiledRuleset, raw: dict[str, Any]) -> None:
    for explain, reference in ((False, False), (True, False), (False, True)):
        try:
            result = rs.score(raw, unit="u", explain=explain, reference=reference)
        except (InputError, EvaluationError) as exc:
            assert exc.message
            continue
        assert isinstance(result.score, Decimal)


@_SETTINGS
@given(strategies.source_files("fuzz.rules"))
def test_random_trees_go_through_the_pipeline_with_only_our_errors(tree: SourceFile) -> None:
    """Format, parse, check and compile any syntax tree: diagnostics that render, or a working ruleset."""
    text = format_source(tree)
    sf = parse(text, "fuzz.rules")
    assert format_text(text, "fuzz.rules") == text
    if sf.ruleset is None:
        return
    result = check(sf.ruleset, source=sf.source, tests=sf.tests)
    for diag in result.diagnostics:
        assert 1 <= diag.span.line <= text.count("\n") + 1
        assert render(diag, sf.source)
    if not result.ok:
        return
    rs = compile_checked(sf.ruleset, source=sf.source, path="fuzz.rules", tests=sf.tests)
    _score_only_our_errors(rs, {})


@_SETTINGS
@given(st.data())
def test_well_typed_rulesets_meet_hostile_inputs_with_input_errors(data: st.DataObject) -> None:
    """A valid ruleset scored with wrongly shaped inputs answers InputError/EvaluationError, never a crash."""
    text, good = data.draw(rulesets(max_depth=1))
    rs = compile_ruleset(text, "gen.rules")
    raw = data.draw(_hostile_inputs(sorted(good)))
    mixed = {**good, **raw}
    _score_only_our_errors(rs, raw)
    _score_only_our_errors(rs, mixed)


_REFERENCE: list[CompiledRuleset] = []


def _reference() -> CompiledRuleset:
    if not _REFERENCE:
        _REFERENCE.append(compile_ruleset(REFERENCE.read_text(encoding="utf-8"), str(REFERENCE)))
    return _REFERENCE[0]


@_SETTINGS
@given(st.data())
def test_reference_ruleset_meets_hostile_inputs_with_input_errors(data: st.DataObject) -> None:
    """The reference ruleset scored with random values for its real input names fails only with our errors."""
    rs = _reference()
    names = [i.name for i in rs.ruleset.of_kind(Input)]
    raw = data.draw(_hostile_inputs(names))
    _score_only_our_errors(rs, raw)


@settings(max_examples=100)
@given(st.text(max_size=300))
def test_formatter_on_random_text_raises_only_ruleset_errors(text: str) -> None:
    """Formatting arbitrary text either succeeds idempotently or raises RulesetError."""
    try:
        formatted = format_text(text, "t.rules")
    except RulesetError as exc:
        assert exc.diagnostics
        return
    assert formatted == format_text(formatted, "t.rules")


def test_ruleset_without_inputs_compiles_and_scores() -> None:
    """Regression (found by the pipeline fuzz): a ruleset with no inputs compiled to invalid Python."""
    rs = compile_ruleset('ruleset a version "1" {}', "empty.rules")
    assert Decimal("0.00") == rs.score({}).score
    try:
        rs.score({"x": 1})
    except InputError as exc:
        assert "x: unknown input" in exc.message
    else:
        raise AssertionError("an unknown input was accepted")
