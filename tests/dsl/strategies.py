"""Hypothesis strategies for random, syntactically valid ruleset ASTs.

Everything generated here can be written as ruleset text and parsed back to an
equal tree: names are never reserved words, literals keep a ``text`` that
matches their value the way the parser computes it, strings survive escaping
and NFC normalization, and node shapes are those the parser builds (e.g. a
one-argument ``count(x)`` is a `ListAgg`, never a `Call`). The trees are not
type-checked: names are drawn from small pools and refer to nothing in
particular. Reuse `expressions`, `given_values`, `rulesets`, `source_files`
wherever a test needs arbitrary syntax; spans are left empty (`NO_SPAN`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal

from hypothesis import strategies as st

from dsl import nodes as n
from dsl.format import escape_string
from dsl.parser import PICK_SCOPES, PICK_SOURCES, REMOVABLE, RESERVED, ROLES, ROUNDING_MODES, SIMPLE_TYPES

#: Declared and referenced names: plain, Vietnamese, and soft keywords that are
#: also ordinary names inside expressions (SPEC §1.3).
NAME_POOL = (
    "a",
    "b",
    "x1",
    "_tmp",
    "members",
    "score",
    "level",
    "rank",
    "unit",
    "leader",
    "deputy",
    "current",
    "điểm_thưởng",
    "tỷ_lệ",
    "chỉ_tiêu",
    "Đơn_vị",
)
FUNC_POOL = ("min", "max", "clamp", "round", "floor", "ceil", "abs", "bloc_max", "bloc_count", "held", "f")
AGG_FUNCS = ("count", "any", "all", "sum")
CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")
BINARY_OPS = ("+", "-", "*", "/", "and", "or", *CMP_OPS)

assert not set(NAME_POOL) & RESERVED

names = st.sampled_from(NAME_POOL)

#: Text for labels and string literals: Vietnamese letters, escapes, and the
#: characters the formatter must not mistake for structure (``#``, braces, quotes).
_TEXT_ALPHABET = st.sampled_from(
    [*"aAzZ09 .,;:-_()[]{}#=<>%'\"\\\n\tđĐăâêôơưếềểễệỳỹÀÁẠÃ", "\u0301", "\u0303", "\u2028", "—", "→"]
)


def _representable(value: str) -> bool:
    """A string value survives quoting and file-level NFC exactly (e.g. not ``\\n`` + a combining accent)."""
    quoted = escape_string(value)
    return unicodedata.normalize("NFC", quoted) == quoted


texts = (
    st.text(_TEXT_ALPHABET, max_size=12).map(lambda s: unicodedata.normalize("NFC", s)).filter(_representable)
)


# ------------------------------------------------------------------ literals


@st.composite
def numbers(draw: st.DrawFn) -> n.Number:
    """A non-negative number literal whose value and text agree as the parser builds them."""
    kind = draw(st.sampled_from(("int", "decimal", "percent")))
    whole = draw(st.integers(0, 10_000))
    lead = draw(st.sampled_from(("", "", "", "0")))
    if kind == "int":
        text = f"{lead}{whole}"
        return n.Number(Decimal(text), "int", text)
    frac = draw(st.from_regex(r"\A[0-9]{1,3}\Z", fullmatch=True))
    if kind == "decimal":
        text = f"{whole}.{frac}"
        return n.Number(Decimal(text), "decimal", text)
    text = draw(st.sampled_from((f"{whole}%", f"{whole}.{frac}%")))
    return n.Number(Decimal(text[:-1]) / 100, "percent", text)


dates = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31))
date_literals = dates.map(n.DateLit)
bool_literals = st.booleans().map(n.BoolLit)
string_literals = texts.map(n.StringLit)
literals = st.one_of(numbers(), date_literals, bool_literals, string_literals)


# --------------------------------------------------------------- expressions


def _extend(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    small = st.lists(children, min_size=1, max_size=3).map(tuple)
    any_count = st.lists(children, max_size=3).map(tuple)
    rows = st.one_of(
        st.builds(n.TableRow, st.sampled_from(CMP_OPS), children.map(lambda c: (c,)), children),
        st.builds(n.TableRow, st.just("in"), small, children),
    )
    return st.one_of(
        st.builds(n.Unary, st.sampled_from(("-", "not")), children),
        st.builds(n.Binary, st.sampled_from(BINARY_OPS), children, children),
        st.builds(n.InList, children, small),
        st.builds(n.IfExpr, children, children, children),
        st.builds(n.Call, st.sampled_from(FUNC_POOL), any_count),
        st.builds(n.ListAgg, st.sampled_from(("count", "any", "all")), children, st.none(), st.none()),
        st.builds(n.ListAgg, st.sampled_from(AGG_FUNCS), children, st.none(), children),
        st.builds(n.ListAgg, st.sampled_from(AGG_FUNCS), children, children, st.none() | children),
        st.builds(n.Table, children, st.lists(rows, max_size=3).map(tuple), st.none() | children),
    )


atoms: st.SearchStrategy[n.Expr] = st.one_of(
    literals,
    names.map(n.Name),
    st.builds(n.Attribute, names, names),
)

expressions: st.SearchStrategy[n.Expr] = st.recursive(atoms, _extend, max_leaves=12)


def _given_extend(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    fields = st.lists(st.tuples(names, children), max_size=3, unique_by=lambda f: f[0]).map(tuple)
    return st.one_of(
        st.lists(children, max_size=3).map(lambda items: n.ListValue(tuple(items))),
        fields.map(n.RecordValue),
    )


def _negative(num: n.Number) -> n.Number:
    return n.Number(-num.value, num.kind, "-" + num.text)


#: Values allowed after ``given NAME =`` and ``default``: literals, signed numbers,
#: bare names, lists and records.
given_values: st.SearchStrategy[n.Expr] = st.recursive(
    st.one_of(literals, numbers().map(_negative), names.map(n.Name)), _given_extend, max_leaves=6
)


# ------------------------------------------------------------- declarations


def _type_extend(children: st.SearchStrategy[n.TypeExpr]) -> st.SearchStrategy[n.TypeExpr]:
    fields = st.lists(st.builds(n.RecordField, names, children), min_size=1, max_size=3)
    return fields.map(lambda fs: n.ListType(tuple(fs)))


type_exprs: st.SearchStrategy[n.TypeExpr] = st.recursive(
    st.one_of(
        st.sampled_from(SIMPLE_TYPES).map(n.SimpleType),
        st.lists(names, min_size=1, max_size=4, unique=True).map(lambda vs: n.EnumType(tuple(vs))),
    ),
    _type_extend,
    max_leaves=4,
)

constraints = st.one_of(
    st.builds(n.Constraint, st.sampled_from((">=", "<=", ">", "<")), expressions, st.none()),
    st.builds(n.Constraint, st.just("in"), expressions, expressions),
)

inputs = st.builds(
    n.Input, names, type_exprs, st.none() | constraints, st.none() | given_values, st.none() | texts
)
criteria = st.builds(n.Criterion, names, texts, st.none() | numbers(), expressions)
criteria_lists = st.lists(criteria, max_size=3).map(tuple)
sort_keys = st.lists(st.builds(n.SortKey, expressions, st.booleans()), min_size=1, max_size=3).map(tuple)


@st.composite
def effective_periods(draw: st.DrawFn) -> n.Effective:
    start, end = sorted((draw(dates), draw(dates)))
    return n.Effective(start, end)


@st.composite
def quotas(draw: st.DrawFn) -> n.Quota:
    if draw(st.booleans()):
        count = draw(st.integers(1, 99))
        return n.Quota(count, None, str(count))
    pct = draw(st.integers(1, 100))
    return n.Quota(None, Decimal(pct) / 100, f"{pct}%")


levels = st.one_of(
    st.builds(n.Level, names, texts, expressions, st.none() | expressions),
    st.builds(n.Level, names, texts, st.none(), st.none()),
)
titles = st.builds(
    n.Title,
    names,
    texts,
    st.lists(st.builds(n.Require, expressions, st.none() | texts), max_size=3).map(tuple),
    st.none() | quotas(),
    st.none() | sort_keys,
)
picks: st.SearchStrategy[n.Pick] = st.one_of(
    st.builds(n.RefPick, st.sampled_from(PICK_SCOPES), st.sampled_from(ROLES)),
    st.builds(n.NextAfterPick, expressions, st.none() | expressions),
    st.builds(n.FirstOfPick, st.sampled_from(PICK_SOURCES), st.none() | expressions),
)


@st.composite
def rotations(draw: st.DrawFn) -> n.Rotation:
    roles = draw(st.lists(st.sampled_from(ROLES), max_size=2, unique=True))
    rules = [n.RotationRule(role, tuple(draw(st.lists(picks, min_size=1, max_size=3)))) for role in roles]
    return n.Rotation(tuple(rules))


@st.composite
def tests(draw: st.DrawFn) -> n.Test:
    """A ``test`` block with unique ``given`` names."""
    given = draw(st.lists(st.builds(n.Given, names, given_values), max_size=3, unique_by=lambda g: g.name))
    target = draw(st.none() | st.tuples(names, texts))
    expects = draw(st.lists(expressions.map(n.Expect), max_size=3))
    return n.Test(draw(texts), target, tuple(given), tuple(expects))


items: st.SearchStrategy[n.Item] = st.one_of(
    texts.map(n.Description),
    effective_periods(),
    st.builds(n.Rounding, st.integers(0, 10), st.sampled_from(ROUNDING_MODES)),
    inputs,
    st.builds(n.Let, names, expressions),
    st.builds(n.Group, names, texts, numbers(), criteria_lists),
    st.builds(n.Bonus, texts, numbers(), criteria_lists),
    st.builds(n.Penalty, texts, st.none() | numbers(), criteria_lists),
    expressions.map(n.ScoreDef),
    st.lists(levels, max_size=3).map(lambda ls: n.Classify(tuple(ls))),
    sort_keys.map(n.Ranking),
    titles,
    rotations(),
    st.builds(n.Remove, st.sampled_from(REMOVABLE), names),
    tests(),
)

rulesets = st.builds(
    n.Ruleset,
    names,
    texts,
    st.none() | st.builds(n.ParentRef, names, texts),
    st.lists(items, max_size=8).map(tuple),
)


def source_files(path: str = "<generated>") -> st.SearchStrategy[n.SourceFile]:
    """A whole file: an optional ruleset and trailing test blocks (never an empty file's worth of nothing)."""
    return st.builds(
        n.SourceFile, st.just(path), st.none() | rulesets, st.lists(tests(), max_size=2).map(tuple)
    )
