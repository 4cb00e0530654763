"""Deciding a whole bloc (SPEC §1.6): ranking, titles with quotas and ties, orchestration.

This module owns what happens once every unit has been scored: the bloc
ranking with competition ranks (1, 2, 2, 4), each title decided in
declaration order for all units at once (eligibility, the title's own
ordering, the quota, ties at the quota boundary), and `evaluate_bloc`, which
runs the whole pipeline — case checks, input validation, bloc aggregates,
scoring, ranking, titles and rotation (`dsl.rotation`) — into a `BlocResult`.

The ranking and quota arithmetic are pure functions over plain key tuples so
that they can be tested (and reasoned about) without a ruleset. Ordering is
done with stable sorts, never pairwise comparisons of units: deciding a bloc
costs O(n log n) in its size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from dsl.results import AWARDED, OVER_QUOTA, TIED

#: A unit's values for the keys of one ordering, in key order.
Key = tuple[Any, ...]


# ------------------------------------------------------------ pure ranking core


def sort_order(keys: Sequence[Key], descending: Sequence[bool]) -> list[int]:
    """Positions of ``keys`` in ranking order: by each key in turn, in its direction.

    Stable: items equal on every key keep their input order (callers pass
    units in rotation order, so that is how equal units are listed). Done as
    one stable sort per key, last key first, so values only ever need ``<``
    within one key — dates, decimals, booleans and texts all work.
    """
    order = list(range(len(keys)))
    for k in reversed(range(len(descending))):
        # reverse=True keeps equal elements in their original order (documented by Python).
        order.sort(key=lambda i: keys[i][k], reverse=descending[k])
    return order


def competition_ranks(ordered: Sequence[Key]) -> list[int]:
    """Competition ranks of keys already in ranking order: ``1, 2, 2, 4``.

    A unit's rank is one more than the number of units strictly ahead of it.
    """
    ranks: list[int] = []
    for i, key in enumerate(ordered):
        if i > 0 and key == ordered[i - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(i + 1)
    return ranks


def quota_limit(count: int | None, percent: Decimal | None, bloc_size: int) -> int | None:
    """How many units a title may award: ``quota N`` → N; ``quota P%`` → floor(P% × size), at least 1.

    ``None`` (no quota) means every eligible unit. ``percent`` is a fraction
    (``5%`` is ``Decimal("0.05")``); the arithmetic is exact.
    """
    if count is not None:
        return count
    if percent is not None:
        share = (percent * bloc_size).to_integral_value(rounding=ROUND_FLOOR)
        return max(1, int(share))
    return None


def quota_statuses(ordered: Sequence[Key], limit: int | None) -> list[str]:
    """The status of each eligible unit, given their keys in the title's order.

    Within the quota: ``awarded``; beyond it: ``over_quota``. When the units
    on both sides of the quota boundary are equal on every key, that whole
    group is ``tied`` — none of them awarded — and left for a vote (SPEC §1.6.4).
    """
    n = len(ordered)
    if limit is None or n <= limit:
        return [AWARDED] * n
    if limit <= 0:
        return [OVER_QUOTA] * n
    boundary = ordered[limit]
    if ordered[limit - 1] != boundary:
        return [AWARDED] * limit + [OVER_QUOTA] * (n - limit)
    start = limit - 1
    while start > 0 and ordered[start - 1] == boundary:
        start -= 1
    end = limit + 1
    while end < n and ordered[end] == boundary:
        end += 1
    return [AWARDED] * start + [TIED] * (end - start) + [OVER_QUOTA] * (n - end)


def rank_units(
    units: Sequence[str], key_of: Callable[[str], Key], descending: Sequence[bool]
) -> tuple[list[str], dict[str, int], dict[str, Key]]:
    """Units in ranking order, their competition ranks, and their keys.

    ``units`` come in rotation order, which therefore orders equal units.
    """
    keys = [key_of(u) for u in units]
    try:
        order = sort_order(keys, descending)
    except TypeError as exc:  # values of different kinds under one key: a checker gap, not a crash
        raise ValueError(f"ranking keys cannot be compared: {exc}") from None
    ordered_units = [units[i] for i in order]
    ordered_keys = [keys[i] for i in order]
    ranks = competition_ranks(ordered_keys)
    return ordered_units, dict(zip(ordered_units, ranks, strict=True)), dict(zip(units, keys, strict=True))
