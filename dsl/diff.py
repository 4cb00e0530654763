"""Structural diff of two resolved rulesets: which declarations were added, removed or changed.

This module owns the comparison of two rulesets' *text* — inputs (type,
constraint, default, label), lets, groups (label, max), criteria (section,
label, max, expression), bonus and penalty, the score formula, levels (label,
conditions, position), the ranking, titles (label, requirements, quota, rank
by, position) and the rotation rules — and its data model, `StructuralDiff`.
What the change *does* to real cases is `dsl.compare`'s job.

Both sides are resolved rulesets straight from the parser (before checking),
so two expressions are the same exactly when their trees are equal — layout
and comments never show up as changes. Expressions are printed with the
formatter's `format_expr`, as an author would write them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dsl import nodes as n
from dsl.format import format_expr

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

#: The order kinds are listed in: roughly the order of a ruleset file.
KINDS = (
    "description",
    "effective",
    "rounding",
    "input",
    "let",
    "group",
    "criterion",
    "bonus",
    "penalty",
    "score",
    "level",
    "ranking",
    "title",
    "rotation",
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One attribute that differs; ``old``/``new`` are ruleset text, None when absent on that side."""

    field: str
    old: str | None
    new: str | None

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class DeclChange:
    """One declaration added, removed or changed. ``name`` is empty for unnamed blocks
    (``description``, ``score``…); for ``rotation`` it is the role."""

    kind: str
    name: str
    status: str
    fields: tuple[FieldChange, ...] = ()

    @property
    def title(self) -> str:
        """``criterion plan`` / ``effective`` — how the declaration is named in reports."""
        return f"{self.kind} {self.name}" if self.name else self.kind

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True, slots=True)
class StructuralDiff:
    """Every declaration-level difference between ``old`` and ``new`` (``NAME VERSION`` each)."""

    old: str
    new: str
    changes: tuple[DeclChange, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    def of_kind(self, kind: str) -> list[DeclChange]:
        return [c for c in self.changes if c.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "changes": [c.to_json() for c in self.changes]}


# ------------------------------------------------------------------ printing


def type_text(t: n.TypeExpr) -> str:
    """A type as written: ``int``, ``enum(a, b)``, ``list of { form: enum(…) }``."""
    if isinstance(t, n.SimpleType):
        return t.name
    if isinstance(t, n.EnumType):
        return f"enum({', '.join(t.values)})"
    return "list of { " + ", ".join(f"{f.name}: {type_text(f.type)}" for f in t.fields) + " }"


def constraint_text(c: n.Constraint | None) -> str | None:
    if c is None:
        return None
    if c.op == "in":
        assert c.high is not None
        return f"in {format_expr(c.low)}..{format_expr(c.high)}"
    return f"{c.op} {format_expr(c.low)}"


def keys_text(keys: tuple[n.SortKey, ...] | None) -> str | None:
    if keys is None:
        return None
    return ", ".join(f"{format_expr(k.expr)} {'desc' if k.descending else 'asc'}" for k in keys)


def pick_text(p: n.Pick) -> str:
    if isinstance(p, n.RefPick):
        return f"{p.scope}.{p.role}"
    where = f" where {format_expr(p.where)}" if p.where is not None else ""
    if isinstance(p, n.NextAfterPick):
        return f"next after {format_expr(p.anchor)}{where}"
    return f"first of {p.source}{where}"


def require_text(r: n.Require) -> str:
    reason = f' "{r.reason}"' if r.reason else ""
    return f"{format_expr(r.expr)}{reason}"


def _opt_expr(e: n.Expr | None) -> str | None:
    return format_expr(e) if e is not None else None


def _num(x: n.Number | None) -> str | None:
    return x.text if x is not None else None


# ------------------------------------------------------------------ comparing

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Aspect(Generic[T]):
    """One compared attribute of a declaration kind: its name and how to print it."""

    field: str
    text: Callable[[T], str | None]


def _fields(old: T, new: T, aspects: Iterable[_Aspect[T]]) -> tuple[FieldChange, ...]:
    out: list[FieldChange] = []
    for a in aspects:
        before, after = a.text(old), a.text(new)
        if before != after:
            out.append(FieldChange(a.field, before, after))
    return tuple(out)


def _compare_named(
    kind: str,
    old: dict[str, T],
    new: dict[str, T],
    aspects: list[_Aspect[T]],
    describe: Callable[[T], tuple[FieldChange, ...]] | None = None,
) -> list[DeclChange]:
    """Added (new order), removed (old order) and changed declarations of one kind, by name."""
    out: list[DeclChange] = []
    for name, node in old.items():
        if name not in new:
            out.append(DeclChange(kind, name, REMOVED, _as_old(describe(node)) if describe else ()))
    for name, node in new.items():
        if name not in old:
            out.append(DeclChange(kind, name, ADDED, describe(node) if describe else ()))
        elif old[name] != node:
            fields = _fields(old[name], node, aspects)
            if fields:
                out.append(DeclChange(kind, name, CHANGED, fields))
    return out


def _describe(aspects: list[_Aspect[T]]) -> Callable[[T], tuple[FieldChange, ...]]:
    """For an added or removed declaration, its attributes as ``new`` (old None) values."""

    def run(node: T) -> tuple[FieldChange, ...]:
        return tuple(FieldChange(a.field, None, v) for a in aspects if (v := a.text(node)) is not None)

    return run


def _as_old(fields: tuple[FieldChange, ...]) -> tuple[FieldChange, ...]:
    """The attributes of a removed declaration: values on the old side."""
    return tuple(FieldChange(f.field, f.new, None) for f in fields)


_INPUT: list[_Aspect[n.Input]] = [
    _Aspect("type", lambda i: type_text(i.type)),
    _Aspect("constraint", lambda i: constraint_text(i.constraint)),
    _Aspect("default", lambda i: _opt_expr(i.default)),
    _Aspect("label", lambda i: i.label),
    # `more/less is better` (issue 9): a new direction changes what the monotonicity lint checks.
    _Aspect("better", lambda i: f"{i.better} is better" if i.better else None),
]
_LET: list[_Aspect[n.Let]] = [_Aspect("expr", lambda x: format_expr(x.expr))]
_GROUP: list[_Aspect[n.Group]] = [
    _Aspect("label", lambda g: g.label),
    _Aspect("max", lambda g: _num(g.max)),
]
_LEVEL_ASPECTS: list[_Aspect[tuple[int, n.Level]]] = [
    _Aspect("position", lambda p: str(p[0])),
    _Aspect("label", lambda p: p[1].label),
    _Aspect("when", lambda p: _opt_expr(p[1].when) if p[1].when is not None else "otherwise"),
    _Aspect("unless", lambda p: _opt_expr(p[1].unless)),
]
_CRITERION: list[_Aspect[tuple[str, n.Criterion]]] = [
    _Aspect("section", lambda p: p[0]),
    _Aspect("label", lambda p: p[1].label),
    _Aspect("max", lambda p: _num(p[1].max)),
    _Aspect("expr", lambda p: format_expr(p[1].expr)),
]
_TITLE: list[_Aspect[tuple[int, n.Title]]] = [
    _Aspect("position", lambda p: str(p[0])),
    _Aspect("label", lambda p: p[1].label),
    _Aspect("quota", lambda p: p[1].quota.text if p[1].quota else None),
    _Aspect("rank by", lambda p: keys_text(p[1].rank_by)),
]


def _criteria(rs: n.Ruleset) -> dict[str, tuple[str, n.Criterion]]:
    out: dict[str, tuple[str, n.Criterion]] = {}
    for item in rs.items:
        if isinstance(item, n.Group):
            out.update({c.name: (item.name, c) for c in item.criteria})
        elif isinstance(item, n.Bonus):
            out.update({c.name: ("bonus", c) for c in item.criteria})
        elif isinstance(item, n.Penalty):
            out.update({c.name: ("penalty", c) for c in item.criteria})
    return out


def _level_list(rs: n.Ruleset) -> list[n.Level]:
    cls = rs.first(n.Classify)
    return list(cls.levels) if isinstance(cls, n.Classify) else []


def _level_changes(old: n.Ruleset, new: n.Ruleset) -> list[DeclChange]:
    la, lb = _level_list(old), _level_list(new)
    pa, pb = _positions([lv.name for lv in la], [lv.name for lv in lb])
    a = {lv.name: (pa.get(lv.name, 0), lv) for lv in la}
    b = {lv.name: (pb.get(lv.name, 0), lv) for lv in lb}
    added_removed = [_a for _a in _LEVEL_ASPECTS if _a.field != "position"]
    return _compare_named("level", a, b, _LEVEL_ASPECTS, _describe(added_removed))


def _positions(old: list[str], new: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Positions among the names both sides share, so that adding or removing one
    declaration does not show every later one as moved."""
    common = set(old) & set(new)
    a = [x for x in old if x in common]
    b = [x for x in new if x in common]
    return {x: i for i, x in enumerate(a, 1)}, {x: i for i, x in enumerate(b, 1)}


def _title_changes(old: n.Ruleset, new: n.Ruleset) -> list[DeclChange]:
    pa, pb = _positions([t.name for t in old.titles], [t.name for t in new.titles])
    a = {t.name: (pa.get(t.name, 0), t) for t in old.titles}
    b = {t.name: (pb.get(t.name, 0), t) for t in new.titles}

    def describe(pair: tuple[int, n.Title]) -> tuple[FieldChange, ...]:
        head = tuple(f for f in _describe(_TITLE)(pair) if f.field != "position")
        return head + tuple(FieldChange("require", None, require_text(r)) for r in pair[1].requires)

    out: list[DeclChange] = []
    for name, pair in a.items():
        if name not in b:
            out.append(DeclChange("title", name, REMOVED, _as_old(describe(pair))))
    for name, pair in b.items():
        if name not in a:
            out.append(DeclChange("title", name, ADDED, describe(pair)))
            continue
        fields = _fields(a[name], pair, _TITLE) + _require_changes(a, b, name)
        if fields:
            out.append(DeclChange("title", name, CHANGED, fields))
    return out


def _require_changes(
    a: dict[str, tuple[int, n.Title]], b: dict[str, tuple[int, n.Title]], name: str
) -> tuple[FieldChange, ...]:
    """Requirements dropped and added (a changed requirement shows as one of each), by text."""
    before = [require_text(r) for r in a[name][1].requires]
    after = [require_text(r) for r in b[name][1].requires]
    removed = [FieldChange("require", r, None) for r in before if r not in after]
    added = [FieldChange("require", None, r) for r in after if r not in before]
    return tuple(removed + added)


def _single(rs: n.Ruleset, kind: type, text: Callable[[Any], str | None]) -> str | None:
    item = rs.first(kind)
    return text(item) if item is not None else None


def _block_changes(kind: str, old: n.Ruleset, new: n.Ruleset, node: type) -> list[DeclChange]:
    """``bonus`` / ``penalty`` headers (their criteria are compared with the other criteria)."""
    a, b = old.first(node), new.first(node)
    if a is None and b is None:
        return []
    aspects: list[_Aspect[Any]] = [_Aspect("label", lambda x: x.label), _Aspect("max", lambda x: _num(x.max))]
    if a is None:
        return [DeclChange(kind, "", ADDED, _describe(aspects)(b))]
    if b is None:
        return [DeclChange(kind, "", REMOVED, _as_old(_describe(aspects)(a)))]
    fields = _fields(a, b, aspects)
    return [DeclChange(kind, "", CHANGED, fields)] if fields else []


def _unnamed(kind: str, before: str | None, after: str | None, field: str) -> list[DeclChange]:
    if before == after:
        return []
    status = ADDED if before is None else REMOVED if after is None else CHANGED
    return [DeclChange(kind, "", status, (FieldChange(field, before, after),))]


def _rotation_changes(old: n.Ruleset, new: n.Ruleset) -> list[DeclChange]:
    def rules(rs: n.Ruleset) -> dict[str, str]:
        rot = rs.first(n.Rotation)
        if not isinstance(rot, n.Rotation):
            return {}
        return {r.role: " else ".join(pick_text(p) for p in r.picks) for r in rot.rules}

    a, b = rules(old), rules(new)
    out: list[DeclChange] = []
    for role in ("leader", "deputy"):
        if a.get(role) != b.get(role):
            status = ADDED if role not in a else REMOVED if role not in b else CHANGED
            out.append(
                DeclChange("rotation", role, status, (FieldChange("picks", a.get(role), b.get(role)),))
            )
    return out


def structural_diff(old: n.Ruleset, new: n.Ruleset) -> StructuralDiff:
    """Compare two resolved rulesets declaration by declaration."""
    changes: list[DeclChange] = []
    changes += _unnamed(
        "description",
        _single(old, n.Description, lambda d: d.text),
        _single(new, n.Description, lambda d: d.text),
        "text",
    )
    changes += _unnamed(
        "effective",
        _single(old, n.Effective, lambda e: f"{e.start} to {e.end}"),
        _single(new, n.Effective, lambda e: f"{e.start} to {e.end}"),
        "period",
    )
    changes += _unnamed(
        "rounding",
        f"{old.rounding.places} {old.rounding.mode}",
        f"{new.rounding.places} {new.rounding.mode}",
        "rounding",
    )
    changes += _compare_named(
        "input", {i.name: i for i in old.inputs}, {i.name: i for i in new.inputs}, _INPUT, _describe(_INPUT)
    )
    changes += _compare_named(
        "let",
        {x.name: x for x in old.of_kind(n.Let)},
        {x.name: x for x in new.of_kind(n.Let)},
        _LET,
        _describe(_LET),
    )
    changes += _compare_named(
        "group", {g.name: g for g in old.groups}, {g.name: g for g in new.groups}, _GROUP, _describe(_GROUP)
    )
    changes += _compare_named("criterion", _criteria(old), _criteria(new), _CRITERION, _describe(_CRITERION))
    changes += _block_changes("bonus", old, new, n.Bonus)
    changes += _block_changes("penalty", old, new, n.Penalty)
    changes += _unnamed(
        "score",
        _single(old, n.ScoreDef, lambda s: format_expr(s.expr)),
        _single(new, n.ScoreDef, lambda s: format_expr(s.expr)),
        "expr",
    )
    changes += _level_changes(old, new)
    changes += _unnamed(
        "ranking",
        _single(old, n.Ranking, lambda r: keys_text(r.keys)),
        _single(new, n.Ranking, lambda r: keys_text(r.keys)),
        "by",
    )
    changes += _title_changes(old, new)
    changes += _rotation_changes(old, new)
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: order[c.kind])  # stable: keeps each kind's own order
    return StructuralDiff(f"{old.name} {old.version}", f"{new.name} {new.version}", tuple(changes))
