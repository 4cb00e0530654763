"""dsl.check_analysis: evaluation order and cycles, condition implication, input ranges."""

from __future__ import annotations

import pytest

from dsl.check_analysis import ConditionIndex, InputRanges, evaluation_order, names_in
from dsl.parser import parse, parse_expr


def test_order_puts_dependencies_first_and_keeps_source_order_otherwise() -> None:
    """Independent nodes keep source order; a node comes after what it uses."""
    deps = {"a": ["c"], "b": [], "c": [], "d": ["a", "b"]}
    order, cycles = evaluation_order(deps, {"a": 0, "b": 1, "c": 2, "d": 3})
    assert ("c", "a", "b", "d") == order
    assert [] == cycles


def test_cycles_start_at_the_earliest_declared_member() -> None:
    """Each cycle is reported once, as a path from its first-declared member back to it."""
    deps = {"x": ["y"], "y": ["z"], "z": ["x"], "s": ["s"], "free": ["x"]}
    order, cycles = evaluation_order(deps, {"free": 0, "y": 1, "z": 2, "x": 3, "s": 4})
    assert [["y", "z", "x", "y"], ["s", "s"]] == cycles
    assert {"x", "y", "z", "s", "free"} == set(order)


def test_edges_to_unknown_names_are_ignored() -> None:
    """A dependency on something that is not a node (an input) does not matter for the order."""
    order, cycles = evaluation_order({"a": ["input_x"]}, {"a": 0})
    assert ("a",) == order
    assert [] == cycles


def test_order_handles_a_deep_chain_without_recursion() -> None:
    """A chain of 20000 nodes is ordered iteratively."""
    size = 20000
    deps = {f"n{i}": [f"n{i + 1}"] for i in range(size)}
    deps[f"n{size}"] = []
    order, _ = evaluation_order(deps, {name: i for i, name in enumerate(deps)})
    assert f"n{size}" == order[0]
    assert "n0" == order[-1]


def test_names_in_collects_every_name() -> None:
    """names_in finds names at any depth, including inside tables and calls."""
    expr = parse_expr("table a { when >= b then min(c, 1) else if d then e else f }")
    assert {"a", "b", "c", "d", "e", "f"} == set(names_in(expr))


@pytest.mark.parametrize(
    ("later", "earlier", "expected"),
    [
        ("score >= 80", "score >= 70", True),
        ("score >= 70", "score >= 80", False),
        ("score > 70", "score >= 70", True),
        ("score >= 70", "score > 70", False),
        ("70 < score", "score >= 70", True),
        ("score <= 10", "score < 20", True),
        ("a > 1 and score >= 90", "score >= 80", True),
        ("score >= 90", "a > 1 or score >= 80", True),
        ("score >= 90", "a > 1 and score >= 80", False),
        ("score == 5", "score >= 5", True),
        ("score >= 80", "votes >= 70", False),
        ("a", "true", True),
    ],
)
def test_implied_by_an_earlier_condition(later: str, earlier: str, expected: bool) -> None:
    """The unreachable-level test: threshold implication on the same expression, and/or structure."""
    index = ConditionIndex()
    index.add(parse_expr(earlier), "earlier")
    assert ("earlier" if expected else None) == index.implied_by(parse_expr(later))


def test_weakest_earlier_bound_is_kept() -> None:
    """Of several earlier thresholds on one expression, the weakest decides, and names its level."""
    index = ConditionIndex()
    index.add(parse_expr("score >= 90"), "excellent")
    index.add(parse_expr("score >= 50"), "done")
    index.add(parse_expr("score > 50"), "other")
    assert "done" == index.implied_by(parse_expr("score >= 50"))
    assert None is index.implied_by(parse_expr("score >= 40"))


def ranges(source: str) -> InputRanges:
    sf = parse('ruleset r version "1" {\n' + source + "\n}")
    assert sf.ruleset is not None
    return InputRanges({i.name: i for i in sf.ruleset.inputs})


@pytest.mark.parametrize(
    ("declaration", "reason"),
    [
        ("input x: int", "it has no constraint"),
        ("input x: int >= 0", "declared `>= 0`"),
        ("input x: int >= 1", None),
        ("input x: decimal > 0", None),
        ("input x: int > -1", "declared `> -1`"),
        ("input x: int in 0..5", "declared `in 0..5`"),
        ("input x: int in 1..5", None),
        ("input x: int <= 5", "declared `<= 5`"),
        ("input x: int < 0", None),
        ("input x: int <= 0", "declared `<= 0`"),
        ("input m: int >= 1\ninput x: int >= m", None),
        ("input m: int >= 0\ninput x: int >= m", "declared `>= m`"),
        ("input m: int > 0\ninput x: int >= m", None),
        ("input m: int\ninput x: int >= m", "declared `>= m`"),
        ("input m: int >= 1\ninput x: int >= 2 * m", None),
        ("input x: int >= y\ninput y: int >= x", None),
    ],
)
def test_zero_reason(declaration: str, reason: str | None) -> None:
    """An input's declared range includes 0 exactly when provable; unknown bounds never warn."""
    assert reason == ranges(declaration).zero_reason("x")
