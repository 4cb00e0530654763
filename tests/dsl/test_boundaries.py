"""dsl.boundaries: submissions on and next to every threshold, and blocs at quota edges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.api import compile_ruleset, load_ruleset
from dsl.bloc import evaluate_bloc
from dsl.boundaries import bases_from_tests, boundary_cases

ROOT = Path(__file__).resolve().parents[2]
D = Decimal

RULESET = """ruleset b version "1" {
  input advanced: int in 0..members
  input members: int >= 1
  input issued: date
  group g "G" max 10 {
    criterion plan "Plan" max 4 = if issued <= 2023-02-28 then 4 else 2
    criterion share "Share" max 6 = 6 * advanced / members
  }
  title t "T" {
    require advanced >= 70% * members "70%"
    quota 1
  }
}

test "base" {
  given { advanced = 40  members = 48  issued = 2023-02-10 }
  expect t
}
"""


@pytest.fixture(scope="module")
def generated() -> Any:
    rs = compile_ruleset(RULESET, "b.rules")
    return boundary_cases(rs, bases_from_tests(rs))


def _values(generated: Any, name: str) -> dict[Any, tuple[Any, str]]:
    return {b.value: (b.edge, b.side) for b in generated.boundaries if b.input == name}


def test_percentage_threshold_values(generated: Any) -> None:
    """70% of 48 is 33.6: the cases are 33 (below) and 34 (above) — no "on" value exists for an int."""
    found = _values(generated, "advanced")
    assert (D("33.6"), "below") == found[D(33)]
    assert (D("33.6"), "above") == found[D(34)]


def test_date_edge_on_and_around(generated: Any) -> None:
    """The plan deadline gives the day before, the day itself and the day after."""
    found = _values(generated, "issued")
    edge = dt.date(2023, 2, 28)
    assert {
        dt.date(2023, 2, 27): (edge, "below"),
        edge: (edge, "on"),
        dt.date(2023, 3, 1): (edge, "above"),
    } == found


def test_nonlinear_points_without_a_flip_are_dropped(generated: Any) -> None:
    """`6 * advanced / members` suggests points by linearization; only edges where a comparison flips stay."""
    members = _values(generated, "members")
    # advanced 40 >= 70% * members flips at 57.14…: 57 and 58 (the share reaches its cap only at 40).
    assert {D(57), D(58)} <= set(members)
    assert all(v <= 100 for v in members)


def test_changes_describe_the_edge(generated: Any) -> None:
    """Each case says what changes across its edge (eligibility here)."""
    b = next(b for b in generated.boundaries if b.input == "advanced" and b.value == D(34))
    assert "t not_eligible → eligible" in b.changes


def test_quota_edge_blocs_award_then_tie() -> None:
    """A bloc of quota-many eligible copies awards them; one more and they tie for a vote."""
    rs = compile_ruleset(RULESET, "b.rules")
    generated = boundary_cases(rs, bases_from_tests(rs))
    (label1, one), (label2, two) = generated.quota_cases
    assert "all awarded" in label1 and "2 tied for 1 place(s)" in label2
    assert ("t_1",) == evaluate_bloc(rs, one).titles["t"].awarded
    assert ("t_1", "t_2") == evaluate_bloc(rs, two).titles["t"].tied


def test_generated_case_evaluates_on_the_bundled_ruleset() -> None:
    """The boundaries CASE of khoi3 2024.1 is a valid case: every unit is evaluated."""
    rs = load_ruleset(ROOT / "rulesets" / "khoi3" / "2024.1.rules")
    generated = boundary_cases(rs, bases_from_tests(rs)[:1], only=["advanced_members", "votes_for"])
    result = evaluate_bloc(rs, generated.case())
    assert len(generated.boundaries) == len(result.units)
    assert {"advanced_members", "votes_for"} == {b.input for b in generated.boundaries}


def test_decimal_threshold_has_an_on_value() -> None:
    """`share >= 90.5%` on a decimal input gives 0.90, 0.905 (on) and 0.91."""
    text = """ruleset s version "1" {
  input share: decimal in 0..1
  title t "T" { require share >= 90.5% "share" }
}
"""
    rs = compile_ruleset(text, "s.rules")
    generated = boundary_cases(rs, [("base", {"share": "0.5"})])
    assert [(D("0.90"), "below"), (D("0.905"), "on"), (D("0.91"), "above")] == [
        (b.value, b.side) for b in generated.boundaries if b.edge == D("0.905")
    ]


THRESHOLD = """ruleset p version "1" {{
  input x: int in 0..200
  input members: int >= 1
  title t "T" {{ require x {op} {pct}% * members "share" }}
}}
"""


@settings(max_examples=30)
@given(
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=100),
    st.sampled_from([">=", ">"]),
)
def test_boundaries_straddle_every_threshold(pct: int, members: int, op: str) -> None:
    """Below the edge the requirement fails, on/above it holds — for any percentage threshold."""
    rs = compile_ruleset(THRESHOLD.format(op=op, pct=pct), "p.rules")
    generated = boundary_cases(rs, [("base", {"x": 0, "members": members})], only=["x"])
    assert generated.boundaries
    for b in generated.boundaries:
        status = rs.score(b.inputs).titles["t"].status
        holds = b.side == "above" or (b.side == "on" and op == ">=")
        assert ("eligible" if holds else "not_eligible") == status, b
