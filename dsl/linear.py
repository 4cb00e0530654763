"""Exact linearization of a unit's evaluation along one input.

This module owns `Linear`, a number that carries its value *and* its exact
derivative with respect to one chosen input (a forward-mode dual number with
`Decimal` coefficients), and `Trace`, which records — for every comparison
the evaluation makes — the value of the input at which that comparison would
flip, if the evaluation stayed on its current linear piece.

Scoring a ruleset is piecewise linear in each numeric input: sums, products
by constants, clamps, caps, tables and `if` only ever switch between linear
pieces at comparisons. Feeding a `Linear` into the reference interpreter
(`dsl.interpreter.UnitInterpreter`), which only uses Python operators on its
values, therefore yields every place where anything about the result could
change next — exactly, in `dsl.runtime.CTX` arithmetic. `dsl.whatif` and
`dsl.boundaries` walk from one such switch point to the next.

What is not linear is noted rather than hidden: a product of two quantities
that both depend on the input, a division by one, `floor`/`ceil`/`round`
steps. `Trace.nonlinear` is then set and callers say their answer came from
a bounded search. Rounding of points to the ruleset's places (`quantize`) is
kept linear and recorded in `Trace.rounded`: its steps are finer than any
comparison and callers verify every candidate on the real evaluator anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsl import runtime as rt

__all__ = ["Linear", "Trace", "as_number", "days"]

ZERO = rt.ZERO


@dataclass
class Trace:
    """What one traced evaluation found. ``origin`` is the input's value (days for dates)."""

    origin: Decimal
    points: set[Decimal] = field(default_factory=set)
    nonlinear: bool = False
    rounded: bool = False
    #: Every comparison's outcome in evaluation order: two values of the input lie on the same
    #: linear piece exactly when their outcomes agree.
    outcomes: list[bool] = field(default_factory=list)

    def switch(self, margin: Decimal, slope: Decimal) -> None:
        """Record where ``margin`` (currently this value, changing by ``slope`` per unit) reaches 0."""
        if slope != ZERO:
            self.points.add(rt.CTX.subtract(self.origin, rt.CTX.divide(margin, slope)))


def days(value: dt.date) -> Decimal:
    """A date as a number of days (its proleptic ordinal), the unit dates move in."""
    return Decimal(value.toordinal())


def as_number(value: Any) -> Any:
    """The plain value of a possibly `Linear` value."""
    return value.value if isinstance(value, Linear) else value


def _parts(other: Any) -> tuple[Any, Decimal]:
    if isinstance(other, Linear):
        return other.value, other.slope
    return other, ZERO


class Linear:
    """A value with its exact derivative with respect to one input; comparisons are recorded.

    ``value`` is a `Decimal` (or a `datetime.date` for a traced date input,
    which the language only compares); ``slope`` is d value / d input.
    """

    __slots__ = ("slope", "trace", "value")

    def __init__(self, value: Any, slope: Decimal, trace: Trace) -> None:
        self.value = value
        self.slope = slope
        self.trace = trace

    def __repr__(self) -> str:
        return f"Linear({self.value}, slope={self.slope})"

    def _new(self, value: Any, slope: Decimal) -> Linear:
        return Linear(value, slope, self.trace)

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Linear:
        v, d = _parts(other)
        return self._new(rt.CTX.add(self.value, v), rt.CTX.add(self.slope, d))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Linear:
        v, d = _parts(other)
        return self._new(rt.CTX.subtract(self.value, v), rt.CTX.subtract(self.slope, d))

    def __rsub__(self, other: Any) -> Linear:
        v, d = _parts(other)
        return self._new(rt.CTX.subtract(v, self.value), rt.CTX.subtract(d, self.slope))

    def __mul__(self, other: Any) -> Linear:
        v, d = _parts(other)
        if d != ZERO and self.slope != ZERO:
            self.trace.nonlinear = True
        slope = rt.CTX.add(rt.CTX.multiply(self.value, d), rt.CTX.multiply(v, self.slope))
        return self._new(rt.CTX.multiply(self.value, v), slope)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Linear:
        v, d = _parts(other)
        if d != ZERO:
            self.trace.nonlinear = True
        quotient = rt.CTX.divide(self.value, v)  # raises on a zero divisor, as the evaluator does
        # (a/b)' = (a' - (a/b) b') / b
        slope = rt.CTX.divide(rt.CTX.subtract(self.slope, rt.CTX.multiply(quotient, d)), v)
        return self._new(quotient, slope)

    def __rtruediv__(self, other: Any) -> Linear:
        v, d = _parts(other)
        if self.slope != ZERO:
            self.trace.nonlinear = True
        quotient = rt.CTX.divide(v, self.value)
        slope = rt.CTX.divide(rt.CTX.subtract(d, rt.CTX.multiply(quotient, self.slope)), self.value)
        return self._new(quotient, slope)

    def __neg__(self) -> Linear:
        return self._new(rt.CTX.minus(self.value), rt.CTX.minus(self.slope))

    def __pos__(self) -> Linear:
        return self

    def __abs__(self) -> Linear:
        self.trace.switch(self.value, self.slope)
        if self.value < ZERO:
            return -self
        return self

    # ------------------------------------------------------------ Decimal methods
    def quantize(self, exp: Decimal, rounding: str | None = None, context: Any = None) -> Linear:
        """Rounding to places: kept linear (finer than any comparison), but noted."""
        if self.slope != ZERO:
            self.trace.rounded = True
        return self._new(self.value.quantize(exp, rounding, context or rt.CTX), self.slope)

    def to_integral_value(self, rounding: str | None = None, context: Any = None) -> Linear:
        """``floor``/``ceil``: a step function; its next steps either side are switch points."""
        whole = self.value.to_integral_value(rounding, context or rt.CTX)
        if self.slope != ZERO:
            self.trace.nonlinear = True
            for boundary in (whole - 1, whole, whole + 1):
                self.trace.switch(rt.CTX.subtract(self.value, boundary), self.slope)
        return self._new(whole, ZERO)

    # ---------------------------------------------------------------- comparisons
    def _record(self, outcome: bool) -> bool:
        self.trace.outcomes.append(outcome)
        return outcome

    def _margin(self, other: Any) -> tuple[Any, Any, Decimal]:
        v, d = _parts(other)
        if isinstance(self.value, dt.date) and isinstance(v, dt.date):
            margin = Decimal((self.value - v).days)
        else:
            margin = rt.CTX.subtract(self.value, v)
        self.trace.switch(margin, rt.CTX.subtract(self.slope, d))
        return self.value, v, margin

    def __lt__(self, other: Any) -> bool:
        a, b, _ = self._margin(other)
        return self._record(bool(a < b))

    def __le__(self, other: Any) -> bool:
        a, b, _ = self._margin(other)
        return self._record(bool(a <= b))

    def __gt__(self, other: Any) -> bool:
        a, b, _ = self._margin(other)
        return self._record(bool(a > b))

    def __ge__(self, other: Any) -> bool:
        a, b, _ = self._margin(other)
        return self._record(bool(a >= b))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Linear, Decimal, int, dt.date)):
            return False
        a, b, _ = self._margin(other)
        return self._record(bool(a == b))

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.value)
