"""Tests for dsl.gencases: synthetic bloc cases that are valid, varied and deterministic."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.api import CompiledRuleset
from dsl.bloc import evaluate_bloc
from dsl.case import load_case
from dsl.gencases import GenerationError, dump_case, generate_cases
from dsl.parser import parse
from dsl.registry import Registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def khoi3() -> CompiledRuleset:
    """khoi3 2024.1 from the repository's registry."""
    return Registry(REPO / "rulesets").get("khoi3", "2024.1")


def test_same_seed_same_bytes(khoi3: CompiledRuleset) -> None:
    """The same ruleset, sizes and seed give byte-identical cases; another seed differs."""
    first = [dump_case(c) for c in generate_cases(khoi3.ruleset, blocs=3, units=5, seed=7)]
    again = [dump_case(c) for c in generate_cases(khoi3.ruleset, blocs=3, units=5, seed=7)]
    other = [dump_case(c) for c in generate_cases(khoi3.ruleset, blocs=3, units=5, seed=8)]
    assert first == again
    assert first != other


def test_bloc_k_does_not_depend_on_corpus_size(khoi3: CompiledRuleset) -> None:
    """Growing a corpus keeps its first blocs unchanged."""
    small = [dump_case(c) for c in generate_cases(khoi3.ruleset, blocs=2, units=4, seed=1)]
    large = [dump_case(c) for c in generate_cases(khoi3.ruleset, blocs=5, units=4, seed=1)]
    assert small == large[:2]


def test_shape(khoi3: CompiledRuleset) -> None:
    """Each case names the ruleset, has the members asked for, distinct holders and a history."""
    (case,) = generate_cases(khoi3.ruleset, blocs=1, units=6, seed=0)
    assert "khoi3@2024.1" == case["ruleset"]
    assert 6 == len(case["members"]) == len(case["submissions"])
    assert case["current"]["leader"] != case["current"]["deputy"]
    assert "2024" == case["period"]
    assert ["2023", "2022"] == [h["period"] for h in case["history"]]


def test_every_case_is_valid_and_outcomes_vary(khoi3: CompiledRuleset) -> None:
    """Generated cases evaluate without errors, and reach several levels and title statuses."""
    levels: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for case in generate_cases(khoi3.ruleset, blocs=20, units=8, seed=3):
        result = evaluate_bloc(khoi3, load_case(dump_case(case)))
        levels.update(u.level for u in result.units)
        statuses.update(t.status for u in result.units for t in u.titles.values())
    assert {"excellent", "good", "done"} <= set(levels)
    assert {"awarded", "not_eligible"} <= set(statuses)


def test_decimals_are_written_exactly() -> None:
    """Decimals are written as exact JSON numbers; dates as text; nesting kept."""
    text = dump_case({"a": Decimal("0.10"), "b": [1, True, None, "đ"], "c": {"d": Decimal("12")}})
    assert '{"a":0.10,"b":[1,true,null,"đ"],"c":{"d":12}}' == text
    assert Decimal("0.10") == json.loads(text, parse_float=Decimal)["a"]


RULES = """
ruleset g version "1" {
  input total: int >= 1
  input part: int in 0..total
  input rest: decimal > part
  input cap: decimal <= 5
  input on_day: date
  input flag: bool default false
  input kind: enum(a, b, c)
  input items: list of { n: int, k: enum(x, y) }
  input late: int in 0..total
  group g "G" max 10 { criterion c "C" max 10 = part - late + rest - cap }
  classify { level ok "ok" otherwise }
}
"""


@settings(max_examples=25)
@given(st.integers(0, 10_000))
def test_constraints_hold_for_any_seed(seed: int) -> None:
    """Whatever the seed, every submission meets its constraints (bounds naming other inputs included)."""
    from dsl.api import compile_ruleset

    compiled = compile_ruleset(RULES, "g.rules")
    for case in generate_cases(compiled.ruleset, blocs=1, units=3, seed=seed):
        for sub in load_case(dump_case(case)).submissions:
            compiled.validate(sub.inputs, unit=sub.unit)


def test_bound_cycle_is_an_error() -> None:
    """Inputs bounding each other in a cycle cannot be generated, and say why."""
    sf = parse('ruleset c version "1" { input a: int <= b  input b: int <= a }', "c.rules")
    assert sf.ruleset is not None
    with pytest.raises(GenerationError, match="cycle"):
        next(generate_cases(sf.ruleset, blocs=1, units=1))
