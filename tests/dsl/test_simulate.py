"""dsl.simulate: rotation rolled forward over the years, invariants and their first broken period."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dsl.api import compile_ruleset, load_ruleset
from dsl.case import Case, parse_case, read_json
from dsl.errors import InputError
from dsl.simulate import Invariant, parse_invariant, simulate

ROOT = Path(__file__).resolve().parents[2]

FIXED_ORDER = """ruleset r version "1" {
  input points: int >= 0
  group g "G" max 10 { criterion c "C" max 10 = points }
  rotation {
    leader = next after current.leader
    deputy = next after leader
  }
}
"""


@pytest.fixture(scope="module")
def khoi3() -> Any:
    return load_ruleset(ROOT / "rulesets" / "khoi3" / "2023.1.rules")


@pytest.fixture(scope="module")
def case() -> Case:
    text = (ROOT / "rulesets" / "khoi3" / "cases" / "2023.json").read_text(encoding="utf-8")
    return parse_case(read_json(text, "2023.json"))


def _fixed_case(members: list[str]) -> Case:
    return parse_case(
        {
            "members": members,
            "period": "2023",
            "current": {"leader": members[0], "deputy": members[1]},
            "submissions": [{"unit": u, "inputs": {"points": i}} for i, u in enumerate(members)],
        }
    )


def test_first_period_matches_the_evaluation(khoi3: Any, case: Case) -> None:
    """The first simulated period is exactly what `thidua evaluate` decides: hau_can leads, tham_muu deputy."""
    sim = simulate(khoi3, case, 1)
    assert ("2024", "hau_can", "tham_muu") == (
        sim.periods[0].period,
        sim.periods[0].leader,
        sim.periods[0].deputy,
    )


def test_khoi3_rotation_leaves_a_member_out(khoi3: Any, case: Case) -> None:
    """With the 2023 results repeated, thanh_tra never leads: the cycle invariant breaks in 2028."""
    sim = simulate(
        khoi3, case, 8, [Invariant("every-member-leads-per-cycle"), Invariant("no-repeat-leader", 3)]
    )
    cycle, repeat = sim.checks
    assert "2028" == cycle.broken_at
    assert "thanh_tra never led" in cycle.why
    assert None is repeat.broken_at
    assert False is sim.holds


def test_fixed_order_leads_everyone_once_per_cycle() -> None:
    """`next after current.leader` gives each member one turn per cycle; a window longer than the bloc breaks."""
    rs = compile_ruleset(FIXED_ORDER, "r.rules")
    case = _fixed_case(["a", "b", "c", "d"])
    checks = [
        Invariant("every-member-leads-per-cycle"),
        Invariant("deputy-becomes-leader"),
        Invariant("no-repeat-leader", 5),
    ]
    sim = simulate(rs, case, 6, checks)
    assert ["b", "c", "d", "a", "b", "c"] == [p.leader for p in sim.periods]
    cycle, deputy, repeat = sim.checks
    assert (None, None) == (cycle.broken_at, deputy.broken_at)
    assert ("2027", "a is leader in 2023 and again in 2027") == (repeat.broken_at, repeat.why)


def test_seeded_results_are_deterministic(khoi3: Any, case: Case) -> None:
    """The same seed gives the same timeline; another seed may differ; the results are labelled."""
    one = simulate(khoi3, case, 6, seed=7)
    again = simulate(khoi3, case, 6, seed=7)
    assert [p.leader for p in one.periods] == [p.leader for p in again.periods]
    assert "generated (seed 7)" == one.results


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-repeat-leader", "needs a number of periods"),
        ("no-repeat-leader:1", "needs a number of periods"),
        ("every-member-leads-per-cycle:3", "takes no parameter"),
        ("leader-once", "unknown invariant 'leader-once'"),
    ],
)
def test_bad_invariants_are_worded(text: str, message: str) -> None:
    """Invariant specs are checked with a sentence naming the problem."""
    with pytest.raises(InputError) as info:
        parse_invariant(text)
    assert message in str(info.value)


def test_years_are_bounded(khoi3: Any, case: Case) -> None:
    """Zero years (or absurdly many) is an input error, not an empty or endless run."""
    with pytest.raises(InputError):
        simulate(khoi3, case, 0)


def test_given_later_results_decide_their_period(khoi3: Any, case: Case) -> None:
    """A later period's case (thanh_tra with the best figures) decides that period: it becomes deputy."""
    best = case.submission("tham_muu")
    assert best is not None
    later = replace(
        case,
        submissions=tuple(
            replace(s, inputs=best.inputs) if s.unit == "thanh_tra" else s for s in case.submissions
        ),
    )
    sim = simulate(khoi3, case, 3, given=[later])
    assert ["hau_can", "tham_muu"] == [p.leader for p in sim.periods[:2]]
    assert "thanh_tra" == sim.periods[1].deputy
    assert sim.results.startswith("given for 1 period(s), then repeated")
