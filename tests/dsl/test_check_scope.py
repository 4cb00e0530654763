"""dsl.check_scope: suggestions, type joins and which symbols each scope may use."""

from __future__ import annotations

import pytest

from dsl import types as t
from dsl.check_scope import (
    BLOC,
    CLASSIFY,
    CONSTRAINT,
    ROTATION,
    RULESET,
    TEST,
    TITLE,
    Env,
    Scope,
    Symbol,
    did_you_mean,
    join,
    unavailable,
)


def env() -> Env:
    symbols = {
        "a": Symbol("a", "input", t.INT, None),
        "l": Symbol("l", "let", t.NUMBER, None),
        "c": Symbol("c", "criterion", t.NUMBER, None),
        "level": Symbol("level", "level", t.level(("x",)), None),
        "first": Symbol("first", "title", t.BOOL, None),
        "second": Symbol("second", "title", t.BOOL, None),
        "rank": Symbol("rank", "builtin", t.INT, None),
        "unit": Symbol("unit", "builtin", t.UNIT, None),
        "leader": Symbol("leader", "builtin", t.UNIT, None),
    }
    return Env(symbols, {"first": 0, "second": 1}, {}, {}, lambda _: t.NUMBER, lambda _: None, True)


def test_did_you_mean() -> None:
    """A close name is suggested; nothing when nothing is close."""
    assert "did you mean 'targets_met'?" == did_you_mean("targets_mett", ["targets_met", "members"])
    assert None is did_you_mean("zzz", ["targets_met", "members"])


def test_join_of_branch_types() -> None:
    """Numbers join (int only if both are); equal types join; others do not."""
    assert t.INT == join(t.INT, t.INT)
    assert t.NUMBER == join(t.INT, t.NUMBER)
    assert t.BOOL == join(t.BOOL, t.BOOL)
    assert None is join(t.BOOL, t.NUMBER)
    assert None is join(t.enum(("a",)), t.enum(("b",)))


@pytest.mark.parametrize(
    ("name", "scope", "available"),
    [
        ("a", Scope(RULESET), True),
        ("c", Scope(RULESET), True),
        ("level", Scope(CLASSIFY), False),
        ("level", Scope(RULESET), True),
        ("first", Scope(RULESET), False),
        ("first", Scope(TEST), True),
        ("first", Scope(TITLE, title_index=1), True),
        ("second", Scope(TITLE, title_index=1), False),
        ("second", Scope(TITLE, title_index=0), False),
        ("rank", Scope(TITLE, title_index=0), True),
        ("rank", Scope(RULESET), False),
        ("unit", Scope(ROTATION), True),
        ("leader", Scope(ROTATION), False),
        ("leader", Scope(ROTATION, leader=True), True),
        ("a", Scope(ROTATION), False),
        ("l", Scope(BLOC, owner="bloc_max"), True),
        ("c", Scope(BLOC, owner="bloc_max"), False),
        ("a", Scope(CONSTRAINT, input_name="b"), True),
        ("a", Scope(CONSTRAINT, input_name="a"), False),
        ("l", Scope(CONSTRAINT, input_name="b"), False),
    ],
)
def test_availability(name: str, scope: Scope, available: bool) -> None:
    """Each scope sees exactly the names SPEC §1.3, §1.6 and §1.7 give it."""
    e = env()
    assert available == (unavailable(e.symbols[name], scope, e) is None)
