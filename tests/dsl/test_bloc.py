"""Tests for dsl.bloc: ranking, competition ranks, quotas, ties, and whole-bloc decisions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dsl.bloc import competition_ranks, quota_limit, quota_statuses, rank_units, sort_order
from dsl.results import AWARDED, OVER_QUOTA, TIED

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
