"""Whole-ruleset analyses the checker runs on facts it has gathered.

This module owns three small, pure analyses: the evaluation order of the
dependency graph with its cycles (`evaluation_order`), whether a condition is
implied by an earlier level's (`ConditionIndex`, for unreachable levels), and
whether an input's declared range includes 0 (`InputRanges`, for the division
warning). They take plain mappings and AST nodes and report nothing
themselves; `dsl.checker` turns their answers into diagnostics.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from dsl import nodes as n

# ------------------------------------------------------------------ graph


def evaluation_order(
    deps: Mapping[str, Sequence[str]], position: Mapping[str, int]
) -> tuple[tuple[str, ...], list[list[str]]]:
    """Order the nodes so that each comes after everything it uses, and find the cycles.

    Tarjan's strongly connected components, iteratively so that a long chain
    of lets cannot hit Python's recursion limit; components come out
    dependencies first, which is the evaluation order. Roots are visited in
    source order (``position``) so the order is stable. Each cycle is returned
    as a path that starts and ends at its earliest-declared member
    (``["a", "b", "a"]``). Edges to names that are not nodes are ignored.
    Linear in nodes + edges.
    """
    graph = {node: [d for d in uses if d in deps] for node, uses in deps.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    order: list[str] = []
    cycles: list[list[str]] = []
    for root in sorted(graph, key=position.__getitem__):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            descended = False
            while i < len(edges):
                nxt = edges[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    descended = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if descended:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    cycles.append(_cycle_path(component, graph, position))
                order.extend(sorted(component, key=position.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles.sort(key=lambda path: position[path[0]])
    return tuple(order), cycles


def _cycle_path(
    component: list[str], graph: Mapping[str, list[str]], position: Mapping[str, int]
) -> list[str]:
    """The shortest way from the earliest-declared member back to itself, for a readable message."""
    members = set(component)
    start = min(component, key=position.__getitem__)
    parent: dict[str, str] = {}
    queue = deque([start])
    end = start
    while queue:
        node = queue.popleft()
        if start in graph[node]:
            end = node
            break
        for nxt in graph[node]:
            if nxt in members and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    path = [end]
    while path[-1] != start:
        path.append(parent[path[-1]])
    path.reverse()
    return [*path, start]


# ---------------------------------------------------------- unreachable


class ConditionIndex:
    """The ``when`` conditions of earlier levels, to find a later level that can never be reached.

    A later condition is *implied* by an earlier one when every unit satisfying
    the later also satisfies the earlier: equal conditions, a later ``X and Y``
    where ``X`` is implied, an earlier ``X or Y`` implied through ``X``, an
    earlier ``true``, and thresholds on the same expression (``score >= 80``
    after ``score >= 70``). Sound, deliberately small, and linear: each
    condition is indexed once and each lookup costs the size of the condition.
    """

    def __init__(self) -> None:
        self.always: str | None = None
        self.exact: dict[n.Expr, str] = {}
        # subject → the weakest bound seen so far: (value, strict, level)
        self.lower: dict[n.Expr, tuple[Decimal, bool, str]] = {}
        self.upper: dict[n.Expr, tuple[Decimal, bool, str]] = {}

    def add(self, condition: n.Expr, level: str) -> None:
        """Index an earlier level's ``when`` (only levels without ``unless`` qualify)."""
        for part in _flatten(condition, "or"):
            if isinstance(part, n.BoolLit) and part.value and self.always is None:
                self.always = level
            self.exact.setdefault(part, level)
            found = _threshold(part)
            if found is None:
                continue
            subject, op, value = found
            if op in (">=", ">"):
                old = self.lower.get(subject)
                if old is None or value < old[0] or (value == old[0] and old[1] and op == ">="):
                    self.lower[subject] = (value, op == ">", level)
            elif op in ("<=", "<"):
                old = self.upper.get(subject)
                if old is None or value > old[0] or (value == old[0] and old[1] and op == "<="):
                    self.upper[subject] = (value, op == "<", level)

    def implied_by(self, condition: n.Expr) -> str | None:
        """The earlier level whose condition ``condition`` implies, or None."""
        if self.always is not None:
            return self.always
        for part in _flatten(condition, "and"):
            if part in self.exact:
                return self.exact[part]
            found = _threshold(part)
            if found is None:
                continue
            subject, op, value = found
            low = self.lower.get(subject)
            if low is not None and op in (">=", ">", "=="):
                bound, strict, level = low
                if value > bound or (value == bound and (not strict or op == ">")):
                    return level
            high = self.upper.get(subject)
            if high is not None and op in ("<=", "<", "=="):
                bound, strict, level = high
                if value < bound or (value == bound and (not strict or op == "<")):
                    return level
        return None


def _flatten(e: n.Expr, op: str) -> list[n.Expr]:
    """The operands of a chain of ``and`` (or ``or``), iteratively."""
    out: list[n.Expr] = []
    todo = [e]
    while todo:
        cur = todo.pop()
        if isinstance(cur, n.Binary) and cur.op == op:
            todo.extend((cur.right, cur.left))
        else:
            out.append(cur)
    return out


_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "=="}


def _threshold(e: n.Expr) -> tuple[n.Expr, str, Decimal] | None:
    """``X op literal`` (either way round) as (X, op, value), else None."""
    if not isinstance(e, n.Binary) or e.op not in _FLIP:
        return None
    if isinstance(e.right, n.Number) and not isinstance(e.left, n.Number):
        return (e.left, e.op, e.right.value)
    if isinstance(e.left, n.Number) and not isinstance(e.right, n.Number):
        return (e.right, _FLIP[e.op], e.left.value)
    return None


# ----------------------------------------------------------------- ranges

_UNBOUNDED: Any = object()
_UNKNOWN: Any = object()
#: A bound: (a Decimal, _UNBOUNDED or _UNKNOWN; strict)
_Bound = tuple[Any, bool]
_OPEN: _Bound = (_UNBOUNDED, False)


class InputRanges:
    """Whether an input's declared range includes 0 — for the division warning.

    Bounds are followed through other inputs (``int >= members`` with
    ``members: int >= 1`` excludes 0). A bound that is neither a literal nor
    an input makes the answer "unknown", and unknown never warns: the warning
    fires only when the declared range provably includes 0.
    """

    def __init__(self, inputs: Mapping[str, n.Input]) -> None:
        self.inputs = inputs
        self.cache: dict[str, str | None] = {}

    def zero_reason(self, name: str) -> str | None:
        """Why input ``name``'s declared range includes 0 (its constraint in words), or None."""
        if name not in self.cache:
            self.cache[name] = self._zero(name)
        return self.cache[name]

    def _zero(self, name: str) -> str | None:
        c = self.inputs[name].constraint
        if c is None:
            return "it has no constraint"
        low = high = _OPEN
        seen = frozenset({name})
        if c.op == "in":
            low = self._bound(c.low, lower=True, seen=seen)
            high = self._bound(c.high, lower=False, seen=seen) if c.high is not None else _OPEN
        elif c.op in (">=", ">"):
            value, strict = self._bound(c.low, lower=True, seen=seen)
            low = (value, strict or c.op == ">")
        else:
            value, strict = self._bound(c.low, lower=False, seen=seen)
            high = (value, strict or c.op == "<")
        if _UNKNOWN in (low[0], high[0]):
            return None
        low_has = low[0] is _UNBOUNDED or low[0] < 0 or (low[0] == 0 and not low[1])
        high_has = high[0] is _UNBOUNDED or high[0] > 0 or (high[0] == 0 and not high[1])
        return f"declared {constraint_text(c)}" if low_has and high_has else None

    def _bound(self, expr: n.Expr, *, lower: bool, seen: frozenset[str]) -> _Bound:
        """A lower or upper bound: a literal, or another input's own bound in the same direction."""
        if isinstance(expr, n.Number):
            return (expr.value, False)
        if isinstance(expr, n.Unary) and expr.op == "-" and isinstance(expr.operand, n.Number):
            return (-expr.operand.value, False)
        if isinstance(expr, n.Name) and expr.id in self.inputs and expr.id not in seen:
            other = self.inputs[expr.id].constraint
            if other is None:
                return _OPEN
            if other.op == "in":
                target, strict = (other.low if lower else other.high), False
            elif (other.op in (">=", ">")) == lower:
                target, strict = other.low, other.op in (">", "<")
            else:
                return _OPEN
            if target is None:
                return _OPEN
            value, inner_strict = self._bound(target, lower=lower, seen=seen | {expr.id})
            return (value, strict or inner_strict)
        return (_UNKNOWN, False)


def constraint_text(c: n.Constraint) -> str:
    """A constraint as written: `` `>= 0` ``, `` `in 0..reports_due` ``."""

    def show(e: n.Expr | None) -> str:
        if isinstance(e, n.Number):
            return e.text
        if isinstance(e, n.Name):
            return e.id
        if isinstance(e, n.Unary) and isinstance(e.operand, n.Number):
            return "-" + e.operand.text
        return "…"

    if c.op == "in":
        return f"`in {show(c.low)}..{show(c.high)}`"
    return f"`{c.op} {show(c.low)}`"


def names_in(expr: n.Expr) -> list[str]:
    """Every `Name` under ``expr``, in no particular order — iteratively, for any depth.

    A rough over-approximation (record fields and bare values are included):
    good enough to pre-order lets so that typing them rarely needs to recurse.
    """
    out: list[str] = []
    todo: list[Any] = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, n.Name):
            out.append(node.id)
        elif isinstance(node, tuple):
            todo.extend(node)
        elif hasattr(node, "__dataclass_fields__") and not isinstance(node, n.Span):
            todo.extend(getattr(node, f) for f in node.__dataclass_fields__ if f != "span")
    return out
