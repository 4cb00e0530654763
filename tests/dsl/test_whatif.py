"""dsl.whatif: smallest input changes per requirement and for the whole target, alone and in a bloc."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.api import compile_ruleset, load_ruleset
from dsl.case import Case, parse_case, read_json
from dsl.errors import EvaluationError, InputError
from dsl.whatif import resolve_target, what_it_takes

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


@pytest.fixture(scope="module")
def khoi3() -> Any:
    return load_ruleset(ROOT / "rulesets" / "khoi3" / "2023.1.rules")


@pytest.fixture(scope="module")
def case() -> Case:
    text = (ROOT / "rulesets" / "khoi3" / "cases" / "2023.json").read_text(encoding="utf-8")
    return parse_case(read_json(text, "2023.json"))


def _inputs(case: Case, unit: str, **changes: Any) -> dict[str, Any]:
    sub = case.submission(unit)
    assert sub is not None
    return {**sub.inputs, **changes}


def _changes(answer: Any, text: str) -> dict[str, tuple[Any, Any, str]]:
    c = next(c for c in answer.conditions if c.text == text)
    return {x.input: (x.before, x.after, x.method) for x in c.changes}


def test_score_requirement_exact_changes(khoi3: Any, case: Case) -> None:
    """ubkt alone for co_ubnd: 1.60 points short; one more key task (3 → 4) is the exact answer."""
    t = resolve_target(khoi3, title="co_ubnd", level=None)
    answer = what_it_takes(khoi3, _inputs(case, "ubkt"), t, unit="ubkt")
    score = next(c for c in answer.conditions if c.text == "score >= 92")
    assert False is score.passed
    assert score.gap.startswith("score needs 1.60 more")
    found = _changes(answer, "score >= 92")
    assert (D(3), D(4), "exact") == found["key_tasks_excellent"]
    assert (D(2), D(3), "exact") == found["models_replicated"]
    assert (D(7), D(8), "exact") == _changes(answer, "votes_for >= 80% * voters")["votes_for"]


def test_combination_is_verified_when_no_single_change_does(khoi3: Any, case: Case) -> None:
    """Two requirements fail on different inputs: no single change; the greedy pair reaches the title."""
    t = resolve_target(khoi3, title="co_ubnd", level=None)
    answer = what_it_takes(khoi3, _inputs(case, "ubkt"), t, unit="ubkt")
    assert () == answer.single
    assert True is answer.combined_reaches
    assert {"key_tasks_excellent", "votes_for"} == {c.input for c in answer.combined}


def test_percentage_threshold_boundary(khoi3: Any, case: Case) -> None:
    """13 of 20 advanced is below 70%: exactly one more (14 = 70% of 20) makes the requirement hold."""
    t = resolve_target(khoi3, title="quyet_thang", level=None)
    answer = what_it_takes(khoi3, _inputs(case, "ubkt", advanced_members=13), t, unit="ubkt")
    found = _changes(answer, "advanced_members >= 70% * members")
    assert (D(13), D(14), "exact") == found["advanced_members"]
    assert "advanced_members" in {c.input for c in answer.single}


def test_range_limits_are_reported(khoi3: Any, case: Case) -> None:
    """An input already at its declared maximum says so instead of proposing an invalid value."""
    t = resolve_target(khoi3, title="co_ubnd", level=None)
    answer = what_it_takes(khoi3, _inputs(case, "ubkt"), t, unit="ubkt", only=["reviews_held"])
    score = next(c for c in answer.conditions if c.text == "score >= 92")
    assert () == score.changes
    assert "reviews_held must be from 0 to 2, got 3" in score.limits[0].reason


def test_level_unless_is_lifted_by_removing_a_record(khoi3: Any, case: Case) -> None:
    """ctd_ctct scores 97 but a warning keeps it from excellent: removing that record is the answer."""
    t = resolve_target(khoi3, title=None, level="excellent")
    answer = what_it_takes(khoi3, _inputs(case, "ctd_ctct"), t, unit="ctd_ctct")
    assert "good" == answer.status
    assert ["discipline"] == [c.input for c in answer.single]
    assert [] == answer.single[0].after
    assert "enumerated" == answer.single[0].method


def test_in_bloc_title_needs_an_earlier_award_then_rank(khoi3: Any, case: Case) -> None:
    """tccb for co_bca in the bloc: Quyết thắng needs 25 advanced members; the verified combination reaches the flag."""
    t = resolve_target(khoi3, title="co_bca", level=None)
    answer = what_it_takes(khoi3, _inputs(case, "tccb"), t, unit="tccb", case=case)
    assert True is answer.in_bloc
    found = _changes(answer, "quyet_thang")
    assert D(25) == found["advanced_members"][1]
    rank = next(c for c in answer.conditions if c.text == "rank == 1")
    assert rank.gap.startswith(
        "ranked 2 of 6 (score 98.83, votes_for 9); the best of the others: score 102.88"
    )
    assert True is answer.combined_reaches
    assert "advanced_members" in {c.input for c in answer.combined}


def test_unknown_title_suggests_a_name(khoi3: Any) -> None:
    """A misspelt title is an InputError with a did-you-mean and the list of titles."""
    with pytest.raises(InputError) as info:
        resolve_target(khoi3, title="co_bcaa", level=None)
    assert "did you mean 'co_bca'?" in str(info.value)


DECIMAL_RULESET = """ruleset d version "1" {
  input rate: decimal >= 0
  input share: decimal in 0..1
  input issued: date
  title t "T" {
    require rate * 3 >= 10 "rate"
    require issued <= 2023-02-28 "on time"
    require share >= 90.5% "share"
  }
}
"""


def test_decimal_and_date_inputs_move_on_their_grid() -> None:
    """A decimal moves in steps of the ruleset's places (10/3 → 3.34) or lands on a short threshold (0.905); a date in days."""
    rs = compile_ruleset(DECIMAL_RULESET, "d.rules")
    t = resolve_target(rs, title="t", level=None)
    answer = what_it_takes(rs, {"rate": "2", "issued": "2023-03-05", "share": "0.5"}, t)
    assert (D(2), D("3.34"), "exact") == _changes(answer, "rate * 3 >= 10")["rate"]
    assert (D("0.5"), D("0.905"), "exact") == _changes(answer, "share >= 90.5%")["share"]
    before, after, _ = _changes(answer, "issued <= 2023-02-28")["issued"]
    assert (dt.date(2023, 3, 5), dt.date(2023, 2, 28)) == (before, after)


THRESHOLD = """ruleset p version "1" {{
  input x: int in 0..members
  input members: int >= 1
  title t "T" {{ require x {op} {pct}% * members }}
}}
"""


@settings(max_examples=40)
@given(
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=60),
    st.data(),
    st.sampled_from([">=", ">"]),
)
def test_threshold_answers_are_minimal(pct: int, members: int, data: st.DataObject, op: str) -> None:
    """For any percentage threshold the answer is the least whole count that passes, or a range limit."""
    rs = compile_ruleset(THRESHOLD.format(op=op, pct=pct), "p.rules")
    need = D(pct) * members / 100
    least = math.ceil(need) if op == ">=" else math.floor(need) + 1
    x = data.draw(st.integers(min_value=0, max_value=max(0, min(least - 1, members))))
    t = resolve_target(rs, title="t", level=None)
    answer = what_it_takes(rs, {"x": x, "members": members}, t)
    cond = answer.conditions[0]
    if least > members:
        assert "x" in {lim.input for lim in cond.limits}
    elif x < least:
        assert (D(x), D(least), "exact") == _changes(answer, cond.text)["x"]


@pytest.mark.parametrize(("unit", "title"), [("ubkt", "co_ubnd"), ("hau_can", "quyet_thang")])
def test_every_exact_change_is_sound_and_minimal(khoi3: Any, case: Case, unit: str, title: str) -> None:
    """Each proposed change makes its condition hold; for `exact` ones, one step less does not."""
    t = resolve_target(khoi3, title=title, level=None)
    base = _inputs(case, unit)
    answer = what_it_takes(khoi3, base, t, unit=unit)
    checked = 0
    for i, c in enumerate(answer.conditions):
        for ch in c.changes:
            after = khoi3.score({**base, ch.input: ch.after}, unit=unit, explain=True)
            assert True is after.titles[title].requires[i].passed, (c.text, ch)
            if ch.method == "exact" and isinstance(ch.after, Decimal):
                step = D(1) if ch.after > ch.before else D(-1)
                try:
                    nearer = khoi3.score({**base, ch.input: ch.after - step}, unit=unit, explain=True)
                except InputError:
                    continue
                assert False is nearer.titles[title].requires[i].passed, (c.text, ch)
                checked += 1
    assert checked > 0


AGGREGATE = """ruleset aggr version "1" {
  input tasks: int >= 0
  group work "Work" max 10 {
    criterion share "Share" max 10 = if bloc_max(tasks) > 0 then 10 * tasks / bloc_max(tasks) else 0
  }
  title top "Top" { require rank == 1 "first"  quota 1 }
}
"""


def test_bloc_aggregates_are_decided_with_the_whole_bloc() -> None:
    """With bloc_max, 8 tasks only ties the leader (tied, not awarded); 9 takes the title — a search, said so."""
    rs = compile_ruleset(AGGREGATE, "aggr.rules")
    case = parse_case(
        {
            "members": ["a", "b", "c"],
            "submissions": [
                {"unit": "a", "inputs": {"tasks": 4}},
                {"unit": "b", "inputs": {"tasks": 8}},
                {"unit": "c", "inputs": {"tasks": 2}},
            ],
        }
    )
    t = resolve_target(rs, title="top", level=None)
    answer = what_it_takes(rs, {"tasks": 4}, t, unit="a", case=case)
    assert [("tasks", D(9), "search")] == [(c.input, c.after, c.method) for c in answer.single]
    assert any("bloc aggregates" in note for note in answer.notes)
    with pytest.raises(EvaluationError):
        what_it_takes(rs, {"tasks": 4}, t, unit="a")


def test_combination_drops_unneeded_changes() -> None:
    """Greedy first raises a for `a + b >= 10`; once b is raised for `b >= 10`, a is not needed and is dropped."""
    text = """ruleset g version "1" {
  input a: int >= 0
  input b: int >= 0
  input c: int >= 0
  title t "T" { require a + b >= 10 "sum"  require b >= 10 "b"  require c >= 1 "c" }
}
"""
    rs = compile_ruleset(text, "g.rules")
    answer = what_it_takes(rs, {"a": 0, "b": 0, "c": 0}, resolve_target(rs, title="t", level=None))
    assert () == answer.single
    assert True is answer.combined_reaches
    assert [("b", D(10)), ("c", D(1))] == [(c.input, c.after) for c in answer.combined]
