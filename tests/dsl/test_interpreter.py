"""Tests for dsl.interpreter: the general `evaluate(expr, env)` and its Env hooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from dsl import nodes as n
from dsl.errors import EvaluationError
from dsl.interpreter import Env, MapEnv, evaluate, table
from dsl.parser import parse_expr


def ev(text: str, **values: Any) -> Any:
    return evaluate(parse_expr(text), MapEnv(values, enum_values=frozenset({"good", "warning"})))


def test_arithmetic_is_exact_decimal() -> None:
    """Arithmetic and percentages are exact: 55% of 100 >= 55, 0.1 + 0.2 == 0.3."""
    assert Decimal("7") == ev("a + b * 2", a=Decimal(1), b=Decimal(3))
    assert ev("adv >= 55% * members", adv=Decimal(55), members=Decimal(100)) is True
    assert ev("0.1 + 0.2 == 0.3") is True
    assert Decimal(1) / Decimal(3) == ev("1 / 3")


def test_boolean_logic_short_circuits() -> None:
    """`and`/`or` do not evaluate their right side when the left decides."""
    assert ev("false and 1 / 0 > 1") is False
    assert ev("true or 1 / 0 > 1") is True
    assert ev("not (1 > 2)") is True


def test_if_and_tables() -> None:
    """`if` picks a branch; a table's first matching row wins and reports its number."""
    assert Decimal(2) == ev("if x > 1 then 2 else 1 / 0", x=Decimal(5))
    expr = parse_expr("table r { when >= 100% then 30 when >= 90% then 25 else 0 }")
    assert isinstance(expr, n.Table)
    assert (Decimal(25), 2) == table(expr, MapEnv({"r": Decimal("0.95")}))
    assert (Decimal(0), 0) == table(expr, MapEnv({"r": Decimal("0.5")}))


def test_enum_values_resolve_bare() -> None:
    """A bare enum value the env knows evaluates to its name."""
    assert ev("rating == good", rating="good") is True
    assert ev("rating in [good, warning]", rating="bad") is False


def test_dates_compare() -> None:
    """Dates compare with date literals."""
    assert ev("d <= 2023-02-28", d=dt.date(2023, 1, 20)) is True


def test_builtins() -> None:
    """min, max, clamp, round (half-up by default), floor, ceil, abs."""
    assert Decimal("2.68") == ev("round(2.675, 2)")
    assert Decimal(3) == ev("clamp(7, 0, 3)")
    assert (Decimal(2), Decimal(3), Decimal("1.5")) == (ev("floor(2.5)"), ev("ceil(2.5)"), ev("abs(0 - 1.5)"))
    assert (Decimal(1), Decimal(9)) == (ev("min(3, 1, 2)"), ev("max(3, 9)"))


def test_list_aggregates_see_record_fields() -> None:
    """Inside where/of the record's fields are in scope by name."""
    items = [{"form": "warning", "n": Decimal(2)}, {"form": "good", "n": Decimal(5)}]
    assert Decimal(1) == ev("count(items where form == warning)", items=items)
    assert Decimal(7) == ev("sum(items of n)", items=items)
    assert ev("any(items where n > 4)", items=items) is True
    assert ev("all(items where n > 4)", items=items) is False


def test_division_by_zero_is_an_evaluation_error() -> None:
    """Dividing by zero raises EvaluationError with the expression's span."""
    with pytest.raises(EvaluationError, match="division by zero") as info:
        ev("a / b", a=Decimal(1), b=Decimal(0))
    assert info.value.span is not None and 2 == info.value.span.line


def test_unknown_name_is_an_evaluation_error() -> None:
    """A name the env lacks is a clear error, not a KeyError."""
    with pytest.raises(EvaluationError, match="unknown name 'zz'"):
        ev("zz + 1")


def test_bloc_aggregate_outside_a_bloc() -> None:
    """bloc_max without bloc values says the ruleset needs a bloc."""
    with pytest.raises(EvaluationError, match="bloc"):
        ev("bloc_max(x)", x=Decimal(1))


def test_bloc_aggregate_from_the_env() -> None:
    """MapEnv answers bloc aggregates from the values it was given."""
    call = n.Call("bloc_max", (n.Name("x"),))
    env = MapEnv({"x": Decimal(2)}, bloc={call: Decimal(9)})
    assert Decimal("4.5") == evaluate(parse_expr("bloc_max(x) / x"), env)


class RotationEnv:
    """An Env whose `rank(unit)` is answered by the hook, everything else falls back."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def lookup(self, name: str) -> Any:
        return {"unit": "ubkt"}[name]

    def call(self, name: str, args: tuple[n.Expr, ...], env: Env) -> Any:
        self.calls.append(name)
        if name == "rank":
            unit = evaluate(args[0], env)
            return {"ubkt": Decimal(4)}[unit]
        return NotImplemented


def test_call_hook_and_fallback() -> None:
    """`env.call` answers rotation functions; NotImplemented falls back to builtins."""
    env = RotationEnv()
    assert evaluate(parse_expr("rank(unit) <= max(2, 4)"), env) is True
    assert ["rank", "max"] == env.calls


def test_reference_and_compiled_agree_on_a_result_too_long_to_round() -> None:
    """A criterion without max whose points exceed 28 digits is the same EvaluationError in both engines."""
    from dsl.api import compile_ruleset
    from dsl.errors import EvaluationError

    compiled = compile_ruleset(
        'ruleset big version "1" {\n'
        "  input x: decimal\n"
        '  bonus "B" max 5 {\n'
        '    criterion c "C" = x * 100000\n'
        "  }\n"
        '  classify { level ok "ok" otherwise }\n'
        "}\n"
    )
    messages = []
    for reference in (False, True):
        with pytest.raises(EvaluationError) as err:
            compiled.score({"x": "999999999999999999999999.5"}, reference=reference)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "criterion 'c'" in messages[0]
