"""dsl.linear: exact derivatives and switch points through the reference interpreter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dsl.interpreter import MapEnv, evaluate
from dsl.linear import Linear, Trace, days
from dsl.parser import parse_expr

D = Decimal


def _trace(expr: str, x: Decimal, **others: Decimal) -> tuple[object, Trace]:
    trace = Trace(x)
    env = MapEnv({"x": Linear(x, D(1), trace), **others})
    return evaluate(parse_expr(expr), env), trace


def test_threshold_switch_point_is_exact() -> None:
    """`x >= 70% * m` with m = 48 records the exact crossing 33.6, in decimal arithmetic."""
    holds, trace = _trace("x >= 70% * m", D(33), m=D(48))
    assert False is holds
    assert {D("33.60")} == trace.points
    assert False is trace.nonlinear


def test_slope_through_clamp_and_sum() -> None:
    """A criterion `min(2.5 * x, 10) + 3` keeps slope 2.5 below the cap and records the cap at 4."""
    value, trace = _trace("min(2.5 * x, 10) + 3", D(3))
    assert isinstance(value, Linear)
    assert (D("10.5"), D("2.5")) == (value.value, value.slope)
    assert D(4) in trace.points


def test_division_by_the_input_is_nonlinear() -> None:
    """Dividing by the traced input marks the trace nonlinear (callers then say "search")."""
    _, trace = _trace("6 * t / x >= 5", D(20), t=D(18))
    assert True is trace.nonlinear


def test_dates_switch_in_days() -> None:
    """A date compared with a literal switches at that date's ordinal day."""
    trace = Trace(days(dt.date(2023, 2, 10)))
    env = MapEnv({"d": Linear(dt.date(2023, 2, 10), D(1), trace)})
    assert True is evaluate(parse_expr("d <= 2023-02-28"), env)
    assert {days(dt.date(2023, 2, 28))} == trace.points


@given(
    st.integers(min_value=-50, max_value=50),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=-100, max_value=100),
)
def test_linear_values_agree_with_plain_evaluation(x: int, a: int, b: int) -> None:
    """The value part of a traced evaluation equals the plain evaluation, for any linear expression."""
    text = f"clamp({a} * x - {b} / 4, -20, 60) + max(x, {b})"
    plain = evaluate(parse_expr(text), MapEnv({"x": D(x)}))
    traced, _ = _trace(text, D(x))
    assert plain == (traced.value if isinstance(traced, Linear) else traced)
