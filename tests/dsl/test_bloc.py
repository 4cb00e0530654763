"""Tests for dsl.bloc: ranking, competition ranks, quotas, ties, and whole-bloc decisions."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.api import CompiledRuleset, compile_ruleset
from dsl.bloc import competition_ranks, evaluate_bloc, quota_limit, quota_statuses, rank_units, sort_order
from dsl.case import Case, Submission
from dsl.errors import EvaluationError, InputError
from dsl.results import AWARDED, NOT_ELIGIBLE, OVER_QUOTA, TIED, BlocResult

D = Decimal

# ------------------------------------------------------------------ pure core


def test_equal_scores_get_ranks_1_2_2_4() -> None:
    """Competition ranking: two units level on every key share a rank and the next rank is skipped."""
    units, ranks, _ = rank_units(
        ["a", "b", "c", "d"],
        {"a": (D("99"),), "b": (D("90.5"),), "c": (D("90.50"),), "d": (D("80"),)}.__getitem__,
        (True,),
    )
    assert ["a", "b", "c", "d"] == units
    assert {"a": 1, "b": 2, "c": 2, "d": 4} == ranks


def test_equal_units_keep_rotation_order() -> None:
    """Units equal on every key are listed in the order given (rotation order)."""
    units, ranks, _ = rank_units(["z", "y", "x"], lambda u: (D(1),), (True,))
    assert ["z", "y", "x"] == units
    assert {"z": 1, "y": 1, "x": 1} == ranks


def test_second_key_breaks_ties_of_the_first() -> None:
    """`ranking by score desc, votes_for desc`: equal scores are ordered by votes."""
    keys = {"a": (D(90), 5), "b": (D(90), 8), "c": (D(95), 1)}
    units, ranks, _ = rank_units(["a", "b", "c"], keys.__getitem__, (True, True))
    assert ["c", "b", "a"] == units
    assert {"c": 1, "b": 2, "a": 3} == ranks


def test_mixed_directions_and_dates() -> None:
    """An ascending date key after a descending number key: earlier dates first among equals."""
    keys = [
        (D(10), dt.date(2023, 3, 1)),
        (D(10), dt.date(2023, 1, 1)),
        (D(12), dt.date(2023, 5, 1)),
        (D(10), dt.date(2023, 1, 1)),
    ]
    assert [2, 1, 3, 0] == sort_order(keys, (True, False))
    assert [1, 2, 2, 4] == competition_ranks([keys[i] for i in [2, 1, 3, 0]])


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), max_size=30), st.booleans(), st.booleans())
def test_sort_order_matches_a_reference_sort(keys: list[tuple[int, int]], d0: bool, d1: bool) -> None:
    """The multi-pass stable sort equals one sort on a signed composite key, stable by position."""
    expected = sorted(
        range(len(keys)),
        key=lambda i: (-keys[i][0] if d0 else keys[i][0], -keys[i][1] if d1 else keys[i][1], i),
    )
    assert expected == sort_order(keys, (d0, d1))


@given(st.lists(st.integers(0, 4), max_size=30))
def test_rank_is_one_plus_units_strictly_ahead(values: list[int]) -> None:
    """Every unit's competition rank is 1 + the number of units with a strictly better key."""
    ordered = sorted(values, reverse=True)
    ranks = competition_ranks([(v,) for v in ordered])
    assert [1 + sum(1 for w in ordered if w > v) for v in ordered] == ranks


def test_quota_count_and_none() -> None:
    """`quota N` is N; no quota is unlimited."""
    assert 3 == quota_limit(3, None, 10)
    assert quota_limit(None, None, 10) is None


def test_percentage_quota_floors_exactly() -> None:
    """`quota 30%` of 10 units is 3; of 9 units floor(2.7) = 2; exact decimal, no float error."""
    assert 3 == quota_limit(None, D("0.30"), 10)
    assert 2 == quota_limit(None, D("0.30"), 9)
    # 0.1 × 30 is exactly 3 in decimal (binary floating point gives 3.0000000000000004 or 2.999…)
    assert 3 == quota_limit(None, D("0.1"), 30)
    assert 6 == quota_limit(None, D("0.55"), 11)


def test_percentage_quota_is_at_least_one() -> None:
    """`quota 5%` of a 6-unit bloc rounds down to 0 but awards at least 1."""
    assert 1 == quota_limit(None, D("0.05"), 6)


def test_quota_one_with_two_tied_at_the_top() -> None:
    """Quota 1 and two units equal on every key: both tied, none awarded."""
    assert [TIED, TIED, OVER_QUOTA] == quota_statuses([(D(98),), (D(98),), (D(90),)], 1)


def test_quota_two_with_ranks_1_2_2() -> None:
    """Quota 2 with ranks 1, 2, 2: the first is awarded, the two at rank 2 are tied."""
    assert [AWARDED, TIED, TIED] == quota_statuses([(D(99),), (D(98),), (D(98),)], 2)


def test_tie_inside_the_quota_is_not_a_boundary_tie() -> None:
    """Units tied well inside the quota are all awarded; the rest are over quota."""
    assert [AWARDED, AWARDED, AWARDED, OVER_QUOTA] == quota_statuses(
        [(D(99),), (D(99),), (D(97),), (D(96),)], 3
    )


def test_no_quota_awards_every_eligible_unit() -> None:
    """Without a quota every eligible unit is awarded, ties or not."""
    assert [AWARDED] * 3 == quota_statuses([(D(1),), (D(1),), (D(1),)], None)


def test_tie_group_spanning_beyond_the_boundary() -> None:
    """A tie group straddling the boundary is tied in full; later units are over quota."""
    keys = [(D(9),), (D(8),), (D(8),), (D(8),), (D(7),)]
    assert [AWARDED, TIED, TIED, TIED, OVER_QUOTA] == quota_statuses(keys, 3)


def test_quota_zero_awards_nobody() -> None:
    """`quota 0` leaves every eligible unit over quota."""
    assert [OVER_QUOTA, OVER_QUOTA] == quota_statuses([(D(2),), (D(1),)], 0)


@given(st.lists(st.integers(0, 3), max_size=20), st.integers(1, 6))
def test_quota_statuses_respect_the_quota(values: list[int], limit: int) -> None:
    """Never more awarded than the quota; tied units are equal to the boundary and never split by key."""
    ordered = [(v,) for v in sorted(values, reverse=True)]
    statuses = quota_statuses(ordered, limit)
    awarded = statuses.count(AWARDED)
    assert awarded <= limit
    tied = [k for k, s in zip(ordered, statuses, strict=True) if s == TIED]
    assert len(set(tied)) <= 1
    if not tied:
        assert min(limit, len(ordered)) == awarded
    for k, s in zip(ordered, statuses, strict=True):
        if s == OVER_QUOTA and tied:
            assert k < tied[0]


# ------------------------------------------------------------------ whole blocs

MINI = """ruleset mini version "1" {{
  input points: decimal >= 0
  input votes: int >= 0 default 0
  input target: int >= 0 default 0
  group main "Main" max 200 {{
    criterion pts "Points" max 200 = points
  }}
  classify {{
    level excellent "Xuất sắc" when score >= 90
    level good "Tốt" when score >= 80
    level done "Hoàn thành" otherwise
  }}
  {ranking}
  title top "Top" {{
    require level == excellent "excellent"
    {top}
  }}
  title second "Second" {{
    require not top "not already top"
    require score >= 80 "at least 80"
    {second}
  }}
  rotation {{
    leader = current.deputy else next after current.leader else first of members
    deputy = first of ranking where unit != leader else next after leader
  }}
}}
"""


def mini(top: str = "quota 1", second: str = "", ranking: str = "") -> CompiledRuleset:
    return compile_ruleset(MINI.format(top=top, second=second, ranking=ranking), "mini.rules")


def bloc_case(*units: tuple[str, int | str, int], **extra: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "members": [u for u, _, _ in units],
        "submissions": [{"unit": u, "inputs": {"points": p, "votes": v}} for u, p, v in units],
    }
    case.update(extra)
    return case


def statuses(result: BlocResult, title: str) -> dict[str, str]:
    return {u.unit or "": u.titles[title].status for u in result.units}


def test_bloc_ranks_equal_scores_1_2_2_4() -> None:
    """Whole bloc: two units with equal scores share rank 2 and the next unit is 4th."""
    result = evaluate_bloc(mini(), bloc_case(("a", 90, 0), ("b", 95, 0), ("c", 90, 0), ("d", 70, 0)))
    assert [("b", 1), ("a", 2), ("c", 2), ("d", 4)] == [(u.unit, u.rank) for u in result.units]


def test_bloc_tie_at_the_boundary_awards_nobody() -> None:
    """Quota 1 and two excellent units level on every key: both tied, none awarded, reported for a vote."""
    result = evaluate_bloc(mini(), bloc_case(("a", 95, 1), ("b", 95, 1), ("c", 91, 1)))
    assert {"a": TIED, "b": TIED, "c": OVER_QUOTA} == statuses(result, "top")
    assert () == result.titles["top"].awarded
    assert ("a", "b") == result.titles["top"].tied
    note = result.units[0].titles["top"].note or ""
    assert "vote" in note


def test_second_key_resolves_a_boundary_tie() -> None:
    """`ranking by score desc, votes desc`: equal scores but more votes wins the single place."""
    result = evaluate_bloc(
        mini(ranking="ranking by score desc, votes desc"), bloc_case(("a", 95, 1), ("b", 95, 4), ("c", 91, 9))
    )
    assert {"a": OVER_QUOTA, "b": AWARDED, "c": OVER_QUOTA} == statuses(result, "top")
    assert ["b", "a", "c"] == [u.unit for u in result.units]


def test_not_earlier_title_means_not_awarded() -> None:
    """`require not top` excludes the unit awarded `top`; tied (unawarded) units stay eligible."""
    result = evaluate_bloc(mini(), bloc_case(("a", 99, 0), ("b", 85, 0), ("c", 70, 0)))
    assert {"a": AWARDED, "b": NOT_ELIGIBLE, "c": NOT_ELIGIBLE} == statuses(result, "top")
    assert {"a": NOT_ELIGIBLE, "b": AWARDED, "c": NOT_ELIGIBLE} == statuses(result, "second")
    tied = evaluate_bloc(mini(), bloc_case(("a", 95, 0), ("b", 95, 0)))
    assert {"a": AWARDED, "b": AWARDED} == statuses(tied, "second")


def test_percentage_quota_in_a_bloc() -> None:
    """`quota 50%` of 5 units awards floor(2.5) = 2; `quota 5%` still awards one."""
    units = [("a", 99, 0), ("b", 98, 0), ("c", 97, 0), ("d", 96, 0), ("e", 95, 0)]
    result = evaluate_bloc(mini(top="quota 50%"), bloc_case(*units))
    assert ("a", "b") == result.titles["top"].awarded
    assert ("c", "d", "e") == result.titles["top"].over_quota
    assert 2 == result.titles["top"].quota
    result = evaluate_bloc(mini(top="quota 5%"), bloc_case(*units))
    assert ("a",) == result.titles["top"].awarded


def test_rank_by_keys_other_than_the_score() -> None:
    """A title's `rank by votes desc, rank asc` orders eligible units by votes, then bloc rank."""
    result = evaluate_bloc(
        mini(top='require score > 1000 "never"', second="quota 2\n    rank by votes desc, rank asc"),
        bloc_case(("a", 95, 3), ("b", 90, 5), ("c", 85, 5), ("d", 99, 1)),
    )
    assert ("b", "c") == result.titles["second"].awarded
    assert ("a", "d") == result.titles["second"].over_quota


def test_rank_by_tie_on_every_key_is_tied() -> None:
    """Units equal on every `rank by` key at the boundary are tied even if their scores differ."""
    result = evaluate_bloc(
        mini(top='require score > 1000 "never"', second="quota 1\n    rank by votes desc"),
        bloc_case(("a", 95, 5), ("b", 90, 5), ("c", 85, 1)),
    )
    assert {"a": TIED, "b": TIED, "c": OVER_QUOTA} == statuses(result, "second")


def test_every_problem_of_a_bad_case_at_once() -> None:
    """Structural problems and every unit's invalid inputs come back together, inputs prefixed by submission."""
    data = bloc_case(("a", 95, 0), ("b", -1, 0), ("c", "many", 0))
    data["members"].append("z")
    data["current"] = {"leader": "q"}
    with pytest.raises(InputError) as exc:
        evaluate_bloc(mini(), data)
    fields = [v.field for v in exc.value.violations]
    assert {
        "submissions[1](b).inputs.points",
        "submissions[2](c).inputs.points",
        "members[3]",
        "current.leader",
    } == set(fields)
    assert "case" == exc.value.what


def test_missing_input_named_with_its_unit() -> None:
    """A unit missing a required input is reported at submissions[i](unit).inputs.NAME."""
    data = bloc_case(("a", 95, 0), ("b", 90, 0))
    del data["submissions"][1]["inputs"]["points"]
    with pytest.raises(InputError) as exc:
        evaluate_bloc(mini(), data)
    assert ["submissions[1](b).inputs.points"] == [v.field for v in exc.value.violations]


def test_case_object_is_checked_too() -> None:
    """A Case built in code with a member lacking a submission is rejected, not a KeyError."""
    case = Case(members=("a", "b"), submissions=(Submission("a", {"points": 1}),))
    with pytest.raises(InputError) as exc:
        evaluate_bloc(mini(), case)
    assert ["members[1]"] == [v.field for v in exc.value.violations]


def test_stage_is_carried_to_the_unit_result() -> None:
    """A submission's stage appears on the unit's result and in its JSON."""
    data = bloc_case(("a", 95, 0), ("b", 90, 0))
    data["submissions"][0]["stage"] = "reviewed"
    result = evaluate_bloc(mini(), data)
    assert "reviewed" == result.units[0].to_json()["stage"]


def test_explain_lists_every_requirement_with_values() -> None:
    """With explain, each unit × title lists every require, passed or failed, with the values it used."""
    result = evaluate_bloc(mini(), bloc_case(("a", 99, 0), ("b", 85, 0)), explain=True)
    b_second = result.units[1].titles["second"]
    assert [True, True] == [r.passed for r in b_second.requires]
    assert {"top": False} == b_second.requires[0].values
    assert "not already top" == b_second.requires[0].reason
    a_second = result.units[0].titles["second"]
    assert [False, True] == [r.passed for r in a_second.requires]


def test_rotation_uses_this_periods_ranking() -> None:
    """The deputy chain reads the bloc ranking just computed; the leader is the current deputy."""
    data = bloc_case(("a", 80, 0), ("b", 85, 0), ("c", 99, 0), current={"leader": "a", "deputy": "c"})
    result = evaluate_bloc(mini(), data)
    assert result.rotation is not None
    assert ("c", "b") == (result.rotation.leader.unit, result.rotation.deputy.unit)


def test_bloc_aggregates_are_computed_once_for_the_bloc() -> None:
    """A `bloc_max` criterion scores each unit relative to the best of its bloc."""
    text = MINI.format(top="", second="", ranking="").replace(
        'criterion pts "Points" max 200 = points',
        'criterion pts "Points" max 100 = points / bloc_max(points) * 100',
    )
    compiled = compile_ruleset(text, "mini.rules")
    result = evaluate_bloc(compiled, bloc_case(("a", 40, 0), ("b", 80, 0), ("c", 20, 0)))
    assert {"b": D("100.00"), "a": D("50.00"), "c": D("25.00")} == {u.unit: u.score for u in result.units}


def test_division_by_zero_in_a_ranking_key_names_the_unit() -> None:
    """A ranking key that divides by zero is an EvaluationError naming the unit and the key."""
    compiled = mini(ranking="ranking by points / target desc")
    with pytest.raises(EvaluationError) as exc:
        evaluate_bloc(compiled, bloc_case(("a", 95, 0), ("b", 90, 0)))
    assert "a" == exc.value.unit
    assert "ranking key" == exc.value.where


@functools.cache
def _property_ruleset() -> CompiledRuleset:
    return mini(
        top="quota 2", second="quota 40%\n    rank by votes desc", ranking="ranking by score desc, votes desc"
    )


@given(st.lists(st.tuples(st.integers(60, 100), st.integers(0, 3)), min_size=2, max_size=12))
def test_explain_and_plain_evaluation_agree(rows: list[tuple[int, int]]) -> None:
    """Statuses are the same with and without explanations; every non-`not_eligible` unit passed every require."""
    units = [(f"u{i}", p, v) for i, (p, v) in enumerate(rows)]
    compiled = _property_ruleset()
    plain = evaluate_bloc(compiled, bloc_case(*units))
    explained = evaluate_bloc(compiled, bloc_case(*units), explain=True)
    for title in ("top", "second"):
        assert statuses(plain, title) == statuses(explained, title)
        for u in explained.units:
            t = u.titles[title]
            assert (t.status != NOT_ELIGIBLE) == all(r.passed for r in t.requires)
        award = plain.titles[title]
        assert award.quota is not None and len(award.awarded) <= award.quota


def test_tie_notes_name_few_and_count_many() -> None:
    """A tied unit's note names the others when few, and counts them when the tie group is large."""
    few = evaluate_bloc(mini(), bloc_case(("a", 95, 1), ("b", 95, 1), ("c", 91, 1)))
    assert (few.units[0].titles["top"].note or "").startswith("tied with b at the quota boundary (quota 1)")
    many = evaluate_bloc(mini(), bloc_case(*[(f"u{i}", 95, 1) for i in range(8)]))
    assert 8 == len(many.titles["top"].tied)
    assert (many.units[3].titles["top"].note or "").startswith("one of 8 units tied at the quota boundary")


def test_progress_reports_each_stage() -> None:
    """evaluate_bloc reports validate, score, each title and rotation to a progress callback."""
    calls: list[tuple[str, int, int]] = []
    evaluate_bloc(
        mini(),
        bloc_case(("a", 95, 1), ("b", 90, 1), ("c", 85, 1)),
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert [
        ("validate", 0, 3),
        ("score", 0, 3),
        ("titles", 0, 2),
        ("titles", 1, 2),
        ("titles", 2, 2),
        ("rotation", 0, 1),
        ("rotation", 1, 1),
    ] == calls


def test_case_object_with_duplicates_is_rejected() -> None:
    """A Case built in code listing a member twice, or two submissions for a unit, is rejected."""
    case = Case(
        members=("a", "a"),
        submissions=(Submission("a", {"points": 1}, index=0), Submission("a", {"points": 2}, index=1)),
    )
    with pytest.raises(InputError) as exc:
        evaluate_bloc(mini(), case)
    assert ["members[1]", "submissions[1].unit"] == [v.field for v in exc.value.violations]
