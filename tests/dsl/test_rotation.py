"""Tests for dsl.rotation: leader/deputy chains, `next after`, `held` windows, elections, exhaustion."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl import nodes as n
from dsl.case import HistoryEntry, Holders
from dsl.errors import EvaluationError
from dsl.parser import parse
from dsl.rotation import (
    RotationContext,
    RotationScope,
    decide_rotation,
    evaluator,
    expr_text,
    pick_text,
)

MEMBERS = ("a", "b", "c", "d", "e")
LEVELS = frozenset({"excellent", "good", "done", "failed"})


def context(**overrides: Any) -> RotationContext:
    """Five members a..e; ranking c, a, e, b, d; current leader a, deputy b; history 2022 c/d, 2021 e/a."""
    base: dict[str, Any] = {
        "members": MEMBERS,
        "ranking": ("c", "a", "e", "b", "d"),
        "ranks": {"c": 1, "a": 2, "e": 2, "b": 4, "d": 5},
        "scores": {
            "c": Decimal("95"),
            "a": Decimal("90"),
            "e": Decimal("90"),
            "b": Decimal("80"),
            "d": Decimal("70"),
        },
        "levels": {"c": "excellent", "a": "excellent", "e": "excellent", "b": "good", "d": "done"},
        "awarded": {"flag": frozenset({"c"}), "advanced": frozenset({"c", "a", "e"})},
        "current": Holders("a", "b"),
        "history": (HistoryEntry("2022", "c", "d"), HistoryEntry("2021", "e", "a")),
    }
    base.update(overrides)
    return RotationContext(**base)


def rotation_of(body: str) -> tuple[n.Rotation, str]:
    text = f'ruleset r version "1" {{\n  rotation {{\n{body}\n  }}\n}}\n'
    sf = parse(text)
    assert sf.ruleset is not None
    rot = sf.ruleset.first(n.Rotation)
    assert isinstance(rot, n.Rotation)
    return rot, text


def decide(body: str, ctx: RotationContext | None = None) -> tuple[str, str, Any]:
    rot, text = rotation_of(body)
    c = ctx if ctx is not None else context()
    result = decide_rotation(rot, c, evaluator(c, LEVELS), text)
    return result.leader.unit, result.deputy.unit, result


# ------------------------------------------------------------------ chains


def test_deputy_promoted_and_top_unit_made_deputy() -> None:
    """The reference practice: the deputy becomes leader, the best-ranked other unit becomes deputy."""
    leader, deputy, result = decide(
        "leader = current.deputy else next after current.leader\n"
        "deputy = first of ranking where unit != leader and not held(unit, leader, 1) else next after leader"
    )
    assert ("b", "c") == (leader, deputy)
    assert 0 == result.leader.chosen_by
    assert "current.deputy" == result.leader.trace[0].alternative


def test_next_after_wraps_around() -> None:
    """`next after` the last member in rotation order continues with the first."""
    ctx = context(current=Holders("e", None))
    leader, deputy, _ = decide("leader = next after current.leader\ndeputy = next after leader", ctx)
    assert ("a", "b") == (leader, deputy)


def test_next_after_where_skips_and_wraps() -> None:
    """`next after X where C` skips members failing C, wrapping around the rotation order."""
    ctx = context(current=Holders("d", None))
    leader, _, _ = decide(
        "leader = next after current.leader where level(unit) == excellent and not awarded(unit, flag)\n"
        "deputy = next after leader",
        ctx,
    )
    # after d: e (excellent, no flag) is the first that qualifies
    assert "e" == leader
    ctx = context(current=Holders("e", None))
    leader, _, _ = decide(
        "leader = next after current.leader where rank(unit) >= 4\ndeputy = next after leader",
        ctx,
    )
    assert "b" == leader  # a (rank 2) skipped, b (rank 4) taken


def test_absent_current_deputy_falls_through() -> None:
    """With no current deputy, `current.deputy` yields nothing and the next alternative decides."""
    ctx = context(current=Holders("c", None))
    leader, _, result = decide(
        "leader = current.deputy else next after current.leader\ndeputy = next after leader", ctx
    )
    assert "d" == leader
    assert 1 == result.leader.chosen_by
    assert "there is no current deputy" == result.leader.trace[0].why_not


def test_absent_current_leader_as_anchor_yields_nothing() -> None:
    """`next after current.leader` with no current leader yields nothing and says why."""
    ctx = context(current=Holders(None, None))
    leader, _, result = decide(
        "leader = next after current.leader else first of ranking\ndeputy = first of members where unit != leader",
        ctx,
    )
    assert "c" == leader
    assert "no current leader" in (result.leader.trace[0].why_not or "")


def test_deputy_never_the_leader() -> None:
    """A deputy alternative that yields the leader falls through, saying so."""
    leader, deputy, result = decide(
        "leader = first of ranking\ndeputy = first of ranking else next after leader"
    )
    assert ("c", "d") == (leader, deputy)
    first = result.deputy.trace[0]
    assert "c" == first.unit
    assert "already the leader" in (first.why_not or "")


def test_elected_units_are_taken_when_valid() -> None:
    """An elected leader who is a member is chosen by `elected.leader`."""
    ctx = context(elected=Holders("d", "e"))
    leader, deputy, result = decide(
        "leader = elected.leader else current.deputy\ndeputy = elected.deputy", ctx
    )
    assert ("d", "e") == (leader, deputy)
    assert "elected.leader" == result.leader.trace[result.leader.chosen_by].alternative


def test_elected_unit_failing_the_checks_falls_through() -> None:
    """An elected deputy who is the leader, or an elected unit outside the bloc, falls through."""
    ctx = context(elected=Holders("zz", "b"))
    leader, deputy, result = decide(
        "leader = elected.leader else current.deputy\ndeputy = elected.deputy else next after leader", ctx
    )
    assert ("b", "c") == (leader, deputy)
    assert "'zz' is not a member of the bloc" == result.leader.trace[0].why_not
    assert "already the leader" in (result.deputy.trace[0].why_not or "")


def test_no_election_falls_through() -> None:
    """Without an elected leader, `elected.leader` yields nothing."""
    leader, _, result = decide("leader = elected.leader else current.deputy\ndeputy = next after leader")
    assert "b" == leader
    assert "the bloc elected no leader" == result.leader.trace[0].why_not


def test_exhausted_chain_is_an_error_naming_every_alternative() -> None:
    """When no alternative yields a unit, the error names the role and why each alternative failed."""
    ctx = context(current=Holders(None, None))
    rot, text = rotation_of(
        "leader = current.deputy else first of ranking where score(unit) > 100\ndeputy = next after leader"
    )
    with pytest.raises(EvaluationError) as exc:
        decide_rotation(rot, ctx, evaluator(ctx, LEVELS), text)
    message = str(exc.value)
    assert "no unit could be chosen as leader" in message
    assert "there is no current deputy" in message
    assert "score(unit) > 100" in message
    assert "rotation leader" == exc.value.where
    assert 2 == len(exc.value.extra["alternatives"])


# ------------------------------------------------------------------ held windows


def test_held_window_counts_the_current_period() -> None:
    """`held(unit, leader, 1)` is the current leader only."""
    ctx = context()
    assert ctx.held("a", "leader", 1)
    assert not ctx.held("c", "leader", 1)


def test_held_window_reaches_back_into_history() -> None:
    """`held(u, leader, 2)` includes the newest history entry; 3 the one before."""
    ctx = context()
    assert ctx.held("c", "leader", 2)
    assert not ctx.held("e", "leader", 2)
    assert ctx.held("e", "leader", 3)
    assert ctx.held("a", "deputy", 3)
    assert not ctx.held("a", "deputy", 2)


def test_held_zero_periods_is_never() -> None:
    """A window of 0 periods contains nobody."""
    assert not context().held("a", "leader", 0)


def test_held_window_with_absent_current_holder() -> None:
    """With no current leader the current period still counts as one of the N, held by nobody."""
    ctx = context(current=Holders(None, "b"))
    assert frozenset() == ctx.holders("leader", 1)
    assert frozenset({"c"}) == ctx.holders("leader", 2)


def test_no_repeat_within_a_cycle() -> None:
    """`next after current.leader where not held(unit, leader, 5)`: skip everyone who led recently."""
    ctx = context(current=Holders("a", "b"))
    leader, _, _ = decide(
        "leader = next after current.leader where not held(unit, leader, 3)\ndeputy = next after leader", ctx
    )
    # b did not lead in a, c, e's periods; c and e did
    assert "b" == leader
    ctx = context(current=Holders("a", "b"), history=(HistoryEntry("2022", "b", "d"),))
    leader, _, _ = decide(
        "leader = next after current.leader where not held(unit, leader, 2)\ndeputy = next after leader", ctx
    )
    assert "c" == leader


# ------------------------------------------------------------------ scope and text


def test_scope_functions() -> None:
    """rank/score/level/awarded answer from the bloc's precomputed results."""
    scope = RotationScope(context(), "e", "c")

    def arg(expr: n.Expr) -> Any:
        if isinstance(expr, n.Name):
            return scope.lookup(expr.id)
        assert isinstance(expr, n.Number)
        return expr.value

    u = n.Name("unit")
    assert Decimal(2) == scope.call("rank", [u], arg)
    assert Decimal("90") == scope.call("score", [u], arg)
    assert "excellent" == scope.call("level", [u], arg)
    assert scope.call("awarded", [u, n.Name("advanced")], arg) is True
    assert scope.call("awarded", [u, n.Name("flag")], arg) is False
    assert scope.call("held", [u, n.Name("deputy"), n.Number(Decimal(1), "int", "1")], arg) is False
    assert NotImplemented is scope.call("max", [u], arg)


def test_scope_rejects_unknown_titles_and_roles() -> None:
    """awarded() with an unknown title and held() with a non-role are clear evaluation errors."""
    scope = RotationScope(context(), "e", None)

    def arg(expr: n.Expr) -> Any:
        return scope.lookup(expr.id) if isinstance(expr, n.Name) else Decimal(1)

    with pytest.raises(EvaluationError, match="title"):
        scope.call("awarded", [n.Name("unit"), n.Name("nope")], arg)
    with pytest.raises(EvaluationError, match="leader or deputy"):
        scope.call("held", [n.Name("unit"), n.Name("chair"), n.Number(Decimal(1), "int", "1")], arg)
    with pytest.raises(EvaluationError, match="not decided yet"):
        scope.lookup("leader")


def test_pick_text_from_source_and_rebuilt() -> None:
    """Alternatives are shown as written, white space collapsed; without source they are rebuilt."""
    rot, text = rotation_of(
        "leader = current.deputy\ndeputy = first of ranking   where unit != leader\n  and rank(unit) <= 2"
    )
    deputy = rot.rule("deputy")
    assert deputy is not None
    assert "first of ranking where unit != leader and rank(unit) <= 2" == pick_text(deputy.picks[0], text)
    assert "first of ranking where unit != leader and rank(unit) <= 2" == pick_text(deputy.picks[0])


def test_expr_text_parenthesizes_by_precedence() -> None:
    """The message renderer keeps grouping that changes meaning."""
    e = n.Binary("*", n.Binary("+", n.Name("a"), n.Name("b")), n.Name("c"))
    assert "(a + b) * c" == expr_text(e)


def test_first_of_members_with_scores_and_current_holders() -> None:
    """`first of members where` reads score(unit), bloc_size and current.leader inside the condition."""
    leader, deputy, result = decide(
        "leader = first of members where unit != current.leader and score(unit) >= 90 and bloc_size == 5\n"
        "deputy = first of members where unit != leader and level(unit) == good"
    )
    assert ("c", "b") == (leader, deputy)
    assert 0 == result.deputy.chosen_by


def test_first_of_ranking_ties_follow_rotation_order() -> None:
    """Units sharing a rank are tried in rotation order: a and e share rank 2, a comes first."""
    leader, deputy, _ = decide("leader = first of ranking where rank(unit) == 2\ndeputy = next after leader")
    assert ("a", "b") == (leader, deputy)


def test_trace_lists_why_each_earlier_alternative_failed() -> None:
    """The decision records every alternative tried up to the chosen one, with its reason."""
    ctx = context(current=Holders(None, None), elected=Holders(None, None))
    _, _, result = decide(
        "leader = elected.leader else current.deputy else first of ranking where score(unit) > 99"
        " else first of members\ndeputy = next after leader",
        ctx,
    )
    trace = result.leader.trace
    assert 3 == result.leader.chosen_by
    assert [
        "the bloc elected no leader",
        "there is no current deputy",
        "no unit of the ranking satisfies 'score(unit) > 99'",
        None,
    ] == [t.why_not for t in trace]
    assert "a" == trace[3].unit
    assert {"leader": "a", "deputy": "b"} == result.to_json()


@given(st.integers(2, 9), st.data())
def test_next_after_is_the_first_accepted_member_going_round(size: int, data: st.DataObject) -> None:
    """`next after X where C` equals a brute-force walk round the rotation order from X, X excluded."""
    members = tuple(f"m{i}" for i in range(size))
    anchor = data.draw(st.sampled_from(members))
    accepted = data.draw(st.sets(st.sampled_from(members)))
    ctx = context(
        members=members,
        ranking=members,
        ranks={m: 1 for m in members},
        scores={m: Decimal(0) for m in members},
        levels={m: "good" for m in members},
        current=Holders(None, None),
        history=(),
    )
    i = members.index(anchor)
    walk = [members[(i + k) % size] for k in range(1, size)]
    expected = next((m for m in walk if m in accepted), None)
    assert expected == ctx.next_after(anchor, accepted.__contains__)


@given(st.lists(st.sampled_from((*MEMBERS, None)), min_size=1, max_size=6), st.integers(0, 8))
def test_held_window_matches_its_definition(leaders: list[str | None], periods: int) -> None:
    """held(u, leader, N) ⇔ u led in the current period or one of the N-1 newest history periods."""
    current, *older = leaders
    history = tuple(HistoryEntry(str(2022 - k), leader) for k, leader in enumerate(older))
    ctx = context(current=Holders(current, None), history=history)
    window = ([current, *older[: max(periods - 1, 0)]]) if periods >= 1 else []
    for unit in MEMBERS:
        assert (unit in window) == ctx.held(unit, "leader", periods)
