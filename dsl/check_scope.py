"""What an expression can see: symbols, scopes, the checker's environment, and wording.

This module owns the vocabulary shared by `dsl.check_expr` and `dsl.checker`:
the `Symbol` a name resolves to, the `Scope` an expression sits in (which
decides the names it may use, SPEC §1.3, §1.6, §1.7), the `Env` built once per
check, the rule saying why a symbol is not available in a scope, and the
words diagnostics use for types.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dsl import nodes as n
from dsl import types as t
from dsl.types import Type


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name an expression can refer to.

    ``kind`` is input, let, criterion, group, bonus, penalty, score, level,
    title or builtin; ``node`` is the declaring node (None for builtins and the
    default ``score``); ``section`` is a criterion's group name, "bonus" or
    "penalty".
    """

    name: str
    kind: str
    type: Type
    node: Any
    section: str | None = None


#: Scope kinds: where an expression sits decides which names it may use.
RULESET = "ruleset"  # lets, criteria, score, ranking keys
CLASSIFY = "classify"  # like RULESET but without `level`
TITLE = "title"  # + earlier titles, rank, bloc_size
ROTATION = "rotation"  # rotation `where`: unit, leader, bloc_size, rotation functions
ANCHOR = "anchor"  # `next after X`: leader (deputy chain), current./elected.
TEST = "test"  # test `expect`: + every title, as eligibility
CONSTRAINT = "constraint"  # input bounds: other inputs only
BLOC = "bloc"  # inside bloc_max(…) and friends: inputs and lets only

#: Names the language gives meaning to; they cannot be declared (SPEC §1.3).
BUILTIN_NAMES = ("score", "level", "rank", "bloc_size", "unit", "leader", "bonus", "penalty")

NUMERIC_FUNCS = ("min", "max", "clamp", "round", "floor", "ceil", "abs")
LIST_FUNCS = ("count", "any", "all", "sum")
BLOC_FUNCS = ("bloc_max", "bloc_min", "bloc_sum", "bloc_avg", "bloc_count")
ROTATION_FUNCS = ("rank", "score", "level", "awarded", "held")
ARITH = ("+", "-", "*", "/")
ORDERING = ("<", "<=", ">", ">=")

#: Point-like kinds: what a bloc aggregate may not use (SPEC §1.3).
POINT_KINDS = ("criterion", "group", "bonus", "penalty", "score", "level")


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an expression sits. ``fields`` are record fields in scope inside
    ``where``/``of``; ``title_index`` is the position of the enclosing title
    (earlier titles are visible); ``leader`` is true in the deputy chain."""

    kind: str
    fields: Mapping[str, Type] = field(default_factory=dict)
    title_index: int = -1
    leader: bool = False
    owner: str = ""  # the declaration being checked, for messages ("title 'co_bca'")
    input_name: str = ""  # in CONSTRAINT scope: the input whose bound this is


@dataclass(slots=True)
class Env:
    """Everything the expression checker needs to know about the ruleset.

    Built once per check; every lookup is a dict access, so checking is linear
    in the size of the ruleset.
    """

    symbols: dict[str, Symbol]
    #: position of each title in declaration order
    title_index: dict[str, int]
    #: enum value → descriptions of what it belongs to ("party_rating", "level")
    value_owners: dict[str, list[str]]
    #: enum values tuple → a readable owner ("party_rating", "discipline.form")
    enum_names: dict[tuple[str, ...], str]
    #: lazily infers a let's type (lets may be used before they are declared)
    let_type: Callable[[str], Type]
    #: for an input used as a divisor: why its declared range includes 0, or None
    zero_reason: Callable[[str], str | None]
    has_classify: bool


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The "did you mean" hint of SPEC §1.10, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def describe(ty: Type, env: Env | None = None) -> str:
    """A type as a ruleset author reads it: ``number``, ``enum party_rating``, ``level``."""
    if ty.kind == "enum" and env is not None and ty.values in env.enum_names:
        return f"enum {env.enum_names[ty.values]}"
    if ty.kind == "level":
        return "level"
    if ty.kind == "list":
        return "list"
    return str(ty) if ty.kind != "number" else "number"


def same(a: Type, b: Type) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind in ("enum", "level"):
        return a.values == b.values
    if a.kind == "list":
        return a.fields == b.fields
    return True


def join(a: Type, b: Type) -> Type | None:
    """The common type of two branches, or None when they do not agree."""
    if t.ERROR in (a, b):
        return t.ERROR
    if a.kind == "number" and b.kind == "number":
        return t.INT if a.integral and b.integral else t.NUMBER
    return a if same(a, b) else None


def is_bad(*types: Type) -> bool:
    return any(x.kind == "error" for x in types)


def unavailable(sym: Symbol, scope: Scope, env: Env) -> tuple[str, str | None] | None:
    """Why ``sym`` cannot be used in ``scope`` (message, hint), or None."""
    name, kind = sym.name, sym.kind
    if scope.kind == CONSTRAINT:
        if kind != "input":
            return (f"an input's bound may only name other inputs; '{name}' is {kind_phrase(sym)}", None)
        if name == scope.input_name:
            return (f"the bound of '{name}' refers to '{name}' itself", None)
        return None
    if scope.kind == BLOC:
        if kind in ("input", "let"):
            return None
        return (
            f"`{scope.owner}` may use only inputs and lets, but '{name}' is {kind_phrase(sym)}",
            None,
        )
    if scope.kind in (ROTATION, ANCHOR):
        if name == "unit":
            return None if scope.kind == ROTATION else ("'unit' is only available inside `where`", None)
        if name == "leader":
            if scope.leader:
                return None
            return ("'leader' is only available in the deputy chain, after the leader is picked", None)
        if name == "bloc_size":
            return None
        if name in ("score", "level", "rank"):
            return (f"'{name}' is a per-unit value; inside rotation write {name}(unit)", None)
        if kind == "title":
            return (f"inside rotation, write awarded(unit, {name})", None)
        return (
            f"'{name}' is not available inside rotation",
            "rotation can use unit, leader, bloc_size, current.leader, current.deputy, "
            "rank(unit), score(unit), level(unit), awarded(unit, TITLE) and held(unit, ROLE, N)",
        )
    if kind == "builtin":
        if name in ("rank", "bloc_size"):
            if scope.kind == TITLE:
                return None
            return (f"'{name}' is only available inside a title's `require` and `rank by`", None)
        return (f"'{name}' is only available inside a rotation's `where`", None)
    if kind == "title":
        if scope.kind == TEST:
            return None
        if scope.kind == TITLE:
            index = env.title_index[name]
            if index < scope.title_index:
                return None
            if index == scope.title_index:
                return (f"title '{name}' cannot require itself", None)
            return (
                f"title '{name}' is declared after {scope.owner}; a title can only use earlier titles",
                "titles are decided in declaration order: move it above, or drop this requirement",
            )
        return (
            f"title '{name}' can only be used inside a title's `require` or `rank by`, or in a test's `expect`",
            None,
        )
    if kind == "level" and scope.kind == CLASSIFY:
        return ("'level' cannot be used inside `classify`: it is what `classify` decides", None)
    return None


# ------------------------------------------------------------------ wording


def bare_word(e: n.Expr) -> str | None:
    if isinstance(e, n.Name):
        return e.id
    if isinstance(e, n.EnumValue):
        return e.value
    return None


def article(kind: str) -> str:
    return {"bool": "a bool (true/false)", "number": "a number", "date": "a date"}.get(kind, f"a {kind}")


def article_type(ty: Type, env: Env | None) -> str:
    if ty.kind == "enum":
        return f"a value of {describe(ty, env)}"
    if ty.kind == "level":
        return "a level"
    if ty.kind == "list":
        return "a list"
    if ty.kind == "bool":
        return "a bool"
    return f"a {ty.kind}"


def plural(ty: Type, env: Env | None) -> str:
    if ty.kind == "enum":
        return f"values of {describe(ty, env)}"
    return {"level": "levels", "text": "texts", "bool": "bools", "unit": "units", "list": "lists"}.get(
        ty.kind, ty.kind
    )


def kind_phrase(sym: Symbol) -> str:
    return {
        "input": "an input",
        "let": "a let",
        "criterion": "a criterion (its points)",
        "group": "a group",
        "bonus": "the bonus",
        "penalty": "the penalty",
        "score": "the score",
        "level": "the level",
        "title": "a title",
        "builtin": "a built-in",
    }.get(sym.kind, sym.kind)


def or_list(items: list[str]) -> str:
    if not items:
        return "an enum"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]
