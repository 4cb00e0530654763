"""Leader and deputy rotation (SPEC §1.7): the next period's seats, each with its reasons.

This module owns the `rotation { leader = PICK else PICK … deputy = … }`
chains: it tries each alternative in order, records why the ones before the
chosen one yielded nothing (`PickTrace`), keeps the deputy from being the
leader, and raises an `EvaluationError` listing every alternative's failure
when a chain runs out.

Everything a `where` condition may ask about a candidate — `rank(unit)`,
`score(unit)`, `level(unit)`, `awarded(unit, TITLE)`, `held(unit, ROLE, N)` —
is answered from dictionaries built once per bloc (`RotationContext`), so a
chain costs O(members) however large the bloc, never work per pair of units.
The conditions themselves are evaluated by the shared interpreter; this
module supplies the names (`unit`, `leader`) and the functions above through
its environment hook.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dsl import nodes as n
from dsl.case import ROLES, HistoryEntry, Holders
from dsl.errors import EvaluationError, source_lines
from dsl.interpreter import evaluate
from dsl.results import PickTrace, RoleDecision, RotationResult

#: Functions a `where` condition may call, with their arity.
ROTATION_FUNCTIONS = {"rank": 1, "score": 1, "level": 1, "awarded": 2, "held": 3}

#: Evaluates a `where` condition (or a `next after` anchor) for one candidate:
#: ``(expr, unit, leader) -> value``. ``unit`` is None for anchors.
Evaluate = Callable[[n.Expr, "str | None", "str | None"], Any]


@dataclass(frozen=True)
class RotationContext:
    """What rotation decisions see about the bloc: precomputed lookups, one per question.

    ``ranking`` is the bloc ranking order (units equal on every key in rotation
    order); ``history`` is newest first; ``awarded`` maps a title to the units
    awarded it this period.
    """

    members: tuple[str, ...]
    ranking: tuple[str, ...]
    ranks: Mapping[str, int]
    scores: Mapping[str, Decimal]
    levels: Mapping[str, str]
    awarded: Mapping[str, frozenset[str]]
    current: Holders = field(default_factory=Holders)
    elected: Holders = field(default_factory=Holders)
    history: tuple[HistoryEntry, ...] = ()
    position: dict[str, int] = field(init=False, repr=False, compare=False)
    _held: dict[tuple[str, int], frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", {u: i for i, u in enumerate(self.members)})
        object.__setattr__(self, "_held", {})

    def holders(self, role: str, periods: int) -> frozenset[str]:
        """Units that held ``role`` in any of the last ``periods`` periods, the current one included.

        The current period's holder is the case's ``current``; then history,
        newest first. Cached per (role, periods): a condition asked for every
        candidate costs one set lookup each.
        """
        key = (role, periods)
        found = self._held.get(key)
        if found is None:
            units: set[str] = set()
            if periods >= 1:
                now = self.current.get(role)
                if now is not None:
                    units.add(now)
                for entry in self.history[: periods - 1]:
                    held = entry.get(role)
                    if held is not None:
                        units.add(held)
            found = frozenset(units)
            self._held[key] = found
        return found

    def held(self, unit: str, role: str, periods: int) -> bool:
        """`held(unit, ROLE, N)`."""
        return unit in self.holders(role, periods)

    def next_after(self, anchor: str, accept: Callable[[str], bool]) -> str | None:
        """The first member after ``anchor`` in rotation order, cyclically, that ``accept`` takes.

        The anchor itself is not a candidate: going all the way round ends
        just before it.
        """
        start = self.position[anchor]
        size = len(self.members)
        for step in range(1, size):
            unit = self.members[(start + step) % size]
            if accept(unit):
                return unit
        return None

    def first_of(self, units: Sequence[str], accept: Callable[[str], bool]) -> str | None:
        for unit in units:
            if accept(unit):
                return unit
        return None


def decide_rotation(
    rotation: n.Rotation, ctx: RotationContext, evaluate: Evaluate, source: str | None = None
) -> RotationResult:
    """Decide the leader, then the deputy, by the ruleset's rotation chains."""
    leader = decide_role(_rule(rotation, "leader"), ctx, evaluate, None, source)
    deputy = decide_role(_rule(rotation, "deputy"), ctx, evaluate, leader.unit, source)
    return RotationResult(leader=leader, deputy=deputy)


def _rule(rotation: n.Rotation, role: str) -> n.RotationRule:
    rule = rotation.rule(role)
    if rule is None:
        raise EvaluationError(
            f"the rotation has no rule for the {role}", where=f"rotation {role}", span=rotation.span
        )
    return rule


def decide_role(
    rule: n.RotationRule,
    ctx: RotationContext,
    evaluate: Evaluate,
    leader: str | None,
    source: str | None = None,
) -> RoleDecision:
    """Try each alternative of one chain in order; the first that yields an acceptable unit decides.

    ``leader`` is the leader just decided (None while deciding the leader).
    A deputy alternative that yields the leader falls through, saying so.
    """
    role = rule.role
    trace: list[PickTrace] = []
    for i, pick in enumerate(rule.picks):
        text = pick_text(pick, source)
        try:
            unit, why_not = _try_pick(pick, ctx, evaluate, leader)
        except EvaluationError as exc:
            if exc.where:
                raise
            raise EvaluationError(
                f"{text}: {exc.message}", where=f"rotation {role}", span=exc.span or pick.span
            ) from None
        if unit is not None and role == "deputy" and unit == leader:
            trace.append(
                PickTrace(text, unit, f"'{unit}' is already the leader; the deputy must be another unit")
            )
            continue
        if unit is None:
            trace.append(PickTrace(text, None, why_not))
            continue
        trace.append(PickTrace(text, unit))
        return RoleDecision(role=role, unit=unit, chosen_by=i, trace=tuple(trace))
    reasons = "; ".join(f"{j + 1}) {t.alternative}: {t.why_not}" for j, t in enumerate(trace))
    raise EvaluationError(
        f"no unit could be chosen as {role}: every alternative failed — {reasons}",
        where=f"rotation {role}",
        span=rule.span,
        extra={
            "alternatives": [
                {"alternative": t.alternative, "unit": t.unit, "why_not": t.why_not} for t in trace
            ]
        },
    )


def _try_pick(
    pick: n.Pick, ctx: RotationContext, evaluate: Evaluate, leader: str | None
) -> tuple[str | None, str | None]:
    """(unit, None) when the pick yields a unit; (None, why) when it yields nothing."""
    if isinstance(pick, n.RefPick):
        holders = ctx.current if pick.scope == "current" else ctx.elected
        unit = holders.get(pick.role)
        if unit is None:
            if pick.scope == "current":
                return None, f"there is no current {pick.role}"
            return None, f"the bloc elected no {pick.role}"
        if unit not in ctx.position:
            return None, f"'{unit}' is not a member of the bloc"
        return unit, None

    accept, condition = _acceptor(pick.where, evaluate, leader)
    if isinstance(pick, n.NextAfterPick):
        anchor, why = _anchor(pick.anchor, ctx, evaluate, leader, source_text=pick_text(pick))
        if anchor is None:
            return None, why
        if anchor not in ctx.position:
            return None, f"'{anchor}' is not a member of the bloc"
        unit = ctx.next_after(anchor, accept)
        if unit is None:
            if condition:
                return None, f"no other member after '{anchor}' satisfies {condition}"
            return None, f"'{anchor}' is the only member"
        return unit, None

    units = ctx.ranking if pick.source == "ranking" else ctx.members
    unit = ctx.first_of(units, accept)
    if unit is None:
        return (
            None,
            f"no unit of the {pick.source} satisfies {condition}" if condition else "the bloc is empty",
        )
    return unit, None


def _acceptor(
    where: n.Expr | None, evaluate: Evaluate, leader: str | None
) -> tuple[Callable[[str], bool], str]:
    if where is None:
        return (lambda unit: True), ""
    text = "'" + expr_text(where) + "'"

    def accept(unit: str) -> bool:
        value = evaluate(where, unit, leader)
        if not isinstance(value, bool):
            raise EvaluationError(f"the condition {text} gave {value!r}, not true or false", span=where.span)
        return value

    return accept, text


def _anchor(
    expr: n.Expr, ctx: RotationContext, evaluate: Evaluate, leader: str | None, source_text: str
) -> tuple[str | None, str | None]:
    """The unit a `next after` starts from, or why there is none."""
    if isinstance(expr, n.Attribute) and expr.obj in ("current", "elected") and expr.attr in ROLES:
        holders = ctx.current if expr.obj == "current" else ctx.elected
        unit = holders.get(expr.attr)
        if unit is None:
            if expr.obj == "current":
                return None, f"there is no current {expr.attr} to start from"
            return None, f"the bloc elected no {expr.attr} to start from"
        return unit, None
    if isinstance(expr, n.Name) and expr.id == "leader":
        if leader is None:
            return None, "the leader is not decided yet"
        return leader, None
    value = evaluate(expr, None, leader)
    if value is None:
        return None, f"'{expr_text(expr)}' names no unit"
    if not isinstance(value, str):
        raise EvaluationError(f"'{source_text}' needs a unit to start from, got {value!r}", span=expr.span)
    return value, None


# --------------------------------------------------- names inside `where`


class RotationScope:
    """The names and functions a `where` condition sees for one candidate.

    ``unit`` is the candidate, ``leader`` the leader just decided. Function
    arguments arrive unevaluated: ``held``'s role and ``awarded``'s title are
    words, not values; the unit argument is evaluated with ``evaluate_arg``.
    """

    __slots__ = ("ctx", "leader", "unit")

    def __init__(self, ctx: RotationContext, unit: str | None, leader: str | None) -> None:
        self.ctx = ctx
        self.unit = unit
        self.leader = leader

    def lookup(self, name: str) -> Any:
        """``unit`` and ``leader``; NotImplemented for every other name."""
        if name == "unit":
            if self.unit is None:
                raise EvaluationError("'unit' is only defined inside a where condition")
            return self.unit
        if name == "leader":
            if self.leader is None:
                raise EvaluationError("'leader' is not decided yet: the leader's own chain cannot use it")
            return self.leader
        if name == "bloc_size":
            return Decimal(len(self.ctx.members))
        scope, _, role = name.partition(".")
        if role in ROLES and scope in ("current", "elected"):
            holders = self.ctx.current if scope == "current" else self.ctx.elected
            return holders.get(role)
        return NotImplemented

    def call(self, name: str, args: Sequence[n.Expr], evaluate_arg: Callable[[n.Expr], Any]) -> Any:
        """`rank`, `score`, `level`, `awarded`, `held`; NotImplemented for other functions."""
        arity = ROTATION_FUNCTIONS.get(name)
        if arity is None:
            return NotImplemented
        if len(args) != arity:
            raise EvaluationError(
                f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}"
            )
        unit = evaluate_arg(args[0])
        if not isinstance(unit, str) or unit not in self.ctx.position:
            raise EvaluationError(f"{name}() needs a member of the bloc as its first argument, got {unit!r}")
        if name == "rank":
            return Decimal(self.ctx.ranks[unit])
        if name == "score":
            return self.ctx.scores[unit]
        if name == "level":
            return self.ctx.levels[unit]
        if name == "awarded":
            title = _word(args[1])
            winners = self.ctx.awarded.get(title) if title is not None else None
            if winners is None:
                known = ", ".join(self.ctx.awarded) or "none"
                raise EvaluationError(
                    f"awarded() needs a title of the ruleset (titles: {known})", span=args[1].span
                )
            return unit in winners
        role = _word(args[1])
        if role not in ROLES:
            raise EvaluationError(
                "held() needs the role leader or deputy as its second argument", span=args[1].span
            )
        periods = evaluate_arg(args[2])
        if isinstance(periods, bool) or not isinstance(periods, (int, Decimal)) or periods != int(periods):
            raise EvaluationError(
                f"held() needs a whole number of periods, got {periods!r}", span=args[2].span
            )
        return self.ctx.held(unit, role, int(periods))


class _Env:
    """The interpreter's `Env` for one candidate: rotation names first, then enum/level values."""

    __slots__ = ("enum_values", "rounding_mode", "scope")

    def __init__(self, scope: RotationScope, enum_values: frozenset[str]) -> None:
        self.scope = scope
        self.enum_values = enum_values
        self.rounding_mode = ROUND_HALF_UP

    def lookup(self, name: str) -> Any:
        value = self.scope.lookup(name)
        if value is not NotImplemented:
            return value
        if name in self.enum_values:
            return name
        raise EvaluationError(f"'{name}' is not available inside rotation")

    def call(self, name: str, args: tuple[n.Expr, ...], env: Any) -> Any:
        return self.scope.call(name, args, lambda e: evaluate(e, env))


def evaluator(ctx: RotationContext, enum_values: frozenset[str] = frozenset()) -> Evaluate:
    """An `Evaluate` over the shared interpreter: conditions see `RotationScope`'s names and functions.

    ``enum_values`` lets bare level/enum values resolve in an AST the checker
    has not rewritten (the checker turns them into `EnumValue` already).
    """

    def run(expr: n.Expr, unit: str | None, leader: str | None) -> Any:
        return evaluate(expr, _Env(RotationScope(ctx, unit, leader), enum_values))

    return run


def _word(expr: n.Expr) -> str | None:
    """A bare word argument (a role or a title), however the checker left it."""
    if isinstance(expr, n.Name):
        return expr.id
    if isinstance(expr, n.EnumValue):
        return expr.value
    return None


# ----------------------------------------------------------- text of picks


def pick_text(pick: n.Pick, source: str | None = None) -> str:
    """An alternative as written (from the source when available, else rebuilt), on one line."""
    if source is not None:
        written = span_text(source, pick.span)
        if written:
            return written
    if isinstance(pick, n.RefPick):
        return f"{pick.scope}.{pick.role}"
    where = f" where {expr_text(pick.where)}" if pick.where is not None else ""
    if isinstance(pick, n.NextAfterPick):
        return f"next after {expr_text(pick.anchor)}{where}"
    return f"first of {pick.source}{where}"


@functools.lru_cache(maxsize=32)
def _source_lines(source: str) -> tuple[str, ...]:
    # Rulesets are few and immutable: split each once, not on every trace line.
    return tuple(source_lines(source))


def span_text(source: str, span: n.Span) -> str:
    """The source text under ``span``, white space collapsed; "" when the span is unknown."""
    if span.line < 1:
        return ""
    lines = _source_lines(source)
    if span.end_line > len(lines):
        return ""
    if span.line == span.end_line:
        text = lines[span.line - 1][span.column - 1 : span.end_column - 1]
    else:
        parts = [lines[span.line - 1][span.column - 1 :]]
        parts += lines[span.line : span.end_line - 1]
        parts.append(lines[span.end_line - 1][: span.end_column - 1])
        text = "\n".join(parts)
    return " ".join(text.split())


_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
}


def expr_text(expr: n.Expr, parent: int = 0) -> str:
    """A compact, readable rendering of an expression, for messages (not the formatter)."""
    if isinstance(expr, n.Number):
        return expr.text
    if isinstance(expr, (n.Name,)):
        return expr.id
    if isinstance(expr, (n.EnumValue,)):
        return expr.value
    if isinstance(expr, n.FieldRef):
        return expr.name
    if isinstance(expr, n.Attribute):
        return f"{expr.obj}.{expr.attr}"
    if isinstance(expr, n.BoolLit):
        return "true" if expr.value else "false"
    if isinstance(expr, n.StringLit):
        return '"' + expr.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(expr, n.DateLit):
        return expr.value.isoformat()
    if isinstance(expr, n.Unary):
        inner = expr_text(expr.operand, 7 if expr.op == "-" else 3)
        text = f"-{inner}" if expr.op == "-" else f"not {inner}"
        return f"({text})" if parent > (7 if expr.op == "-" else 3) else text
    if isinstance(expr, n.Binary):
        p = _PRECEDENCE.get(expr.op, 4)
        text = f"{expr_text(expr.left, p)} {expr.op} {expr_text(expr.right, p + 1)}"
        return f"({text})" if parent > p else text
    if isinstance(expr, n.InList):
        return f"{expr_text(expr.operand, 5)} in [{', '.join(expr_text(o) for o in expr.options)}]"
    if isinstance(expr, n.Call):
        return f"{expr.func}({', '.join(expr_text(a) for a in expr.args)})"
    if isinstance(expr, n.IfExpr):
        text = f"if {expr_text(expr.cond)} then {expr_text(expr.then)} else {expr_text(expr.otherwise)}"
        return f"({text})" if parent else text
    return type(expr).__name__.lower()
