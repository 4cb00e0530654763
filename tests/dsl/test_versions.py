"""Tests for dsl.versions: version validity and ordering."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from dsl.versions import (
    compare_versions,
    invalid_version_reason,
    is_valid_version,
    latest_version,
    sort_versions,
)

_part = st.one_of(st.integers(0, 3000).map(str), st.sampled_from(["rc", "a", "beta", "x1"]))
_version = st.lists(_part, min_size=1, max_size=4).map(".".join)


def test_numeric_parts_compare_as_numbers() -> None:
    """2023.10 is newer than 2023.9 (numbers, not text)."""
    assert 1 == compare_versions("2023.10", "2023.9")
    assert -1 == compare_versions("2023.9", "2023.10")


def test_prefix_is_older() -> None:
    """A version that is a prefix of another comes first."""
    assert ["2023", "2023.1", "2023.1.1"] == sort_versions(["2023.1.1", "2023", "2023.1"])


def test_text_parts_come_after_numbers() -> None:
    """A non-numeric part sorts after every numeric part, and texts compare as text."""
    assert ["2024.1", "2024.99", "2024.a", "2024.rc"] == sort_versions(
        ["2024.rc", "2024.a", "2024.99", "2024.1"]
    )


def test_equal_numbers_spelled_differently_are_ordered_by_text() -> None:
    """2023.01 and 2023.1 have a deterministic order, and neither equals the other."""
    assert ["2023.01", "2023.1"] == sort_versions(["2023.1", "2023.01"])
    assert 0 != compare_versions("2023.01", "2023.1")


def test_latest_version() -> None:
    """The latest of several versions is the highest; of none, None."""
    assert "2024.2" == latest_version(["2023.1", "2024.2", "2024.1"])
    assert None is latest_version([])


def test_invalid_versions_are_explained() -> None:
    """Empty versions, empty parts and path separators are rejected with a reason."""
    assert None is invalid_version_reason("2024.1")
    for bad in ["", "2024..1", "../x", "a/b", "2024 1", ".1"]:
        assert not is_valid_version(bad)
        assert invalid_version_reason(bad) is not None


@given(st.lists(_version, min_size=1, max_size=8))
def test_sorting_is_a_total_order(versions: list[str]) -> None:
    """Sorting is independent of input order and agrees with compare_versions pairwise."""
    ordered = sort_versions(versions)
    assert ordered == sort_versions(reversed(versions))
    for a, b in itertools.pairwise(ordered):
        assert compare_versions(a, b) <= 0
        assert compare_versions(b, a) >= 0
