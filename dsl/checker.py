"""The checker: a parsed ruleset → a checked, rewritten ruleset with diagnostics.

This module owns the ruleset-wide checks of SPEC §1.2–1.3 and §1.6–1.10:
declarations (duplicates, built-in names, one-of constructs, classification
and rotation shape), input types and constraints, the dependency graph of
lets, criteria, groups, ``bonus``, ``penalty``, ``score`` and ``level``
(cycles and an evaluation order), bloc-aggregate purity, test blocks, and the
warnings (group maxima, unreachable levels; division ranges are found while
typing). What happens inside one expression is `dsl.check_expr`'s job.

Every diagnostic of a file is collected in one run and returned sorted in
source order; nothing here raises for a bad ruleset except `require_ok` and
`check_source` (syntax errors), by design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl import types as t
from dsl.check_analysis import ConditionIndex, InputRanges, evaluation_order, names_in
from dsl.check_expr import ExprChecker
from dsl.check_scope import (
    ANCHOR,
    BUILTIN_NAMES,
    CLASSIFY,
    CONSTRAINT,
    POINT_KINDS,
    ROTATION,
    RULESET,
    TEST,
    TITLE,
    Env,
    Scope,
    Symbol,
    did_you_mean,
)
from dsl.check_values import ValueChecker, a_kind, names_phrase
from dsl.errors import ERROR, WARNING, Diagnostic, RulesetError, source_lines
from dsl.parser import parse
from dsl.types import Type

__all__ = ["CheckedRuleset", "Symbol", "check", "check_source", "require_ok"]

#: Constructs a ruleset may contain at most once, with the word used in messages.
SINGLETONS: dict[type, str] = {
    n.Description: "description",
    n.Effective: "effective",
    n.Rounding: "rounding",
    n.ScoreDef: "score",
    n.Classify: "classify",
    n.Ranking: "ranking",
    n.Rotation: "rotation",
    n.Bonus: "bonus",
    n.Penalty: "penalty",
}

_KIND_WORDS = {
    "input": "an input",
    "let": "a let",
    "criterion": "a criterion",
    "group": "a group",
    "title": "a title",
    "level": "a level",
}


@dataclass(frozen=True, slots=True)
class CheckedRuleset:
    """The checker's output.

    ``ruleset`` is the rewritten AST (`EnumValue`, `FieldRef` resolved);
    ``symbols`` maps every referable name — inputs, lets, criteria, groups,
    titles, ``score``, ``level`` (when there is a ``classify``), ``bonus`` and
    ``penalty`` (when declared) and the built-ins ``rank``, ``bloc_size``,
    ``unit``, ``leader`` — to its `Symbol` (nodes are the rewritten ones);
    ``order`` lists lets, criteria, groups, ``bonus``, ``penalty``, ``score``
    and ``level`` so that each comes after everything it uses; ``tests`` are
    the file's test blocks (inside and after the ruleset), rewritten.
    """

    ruleset: n.Ruleset
    symbols: Mapping[str, Symbol]
    diagnostics: tuple[Diagnostic, ...]
    order: tuple[str, ...]
    tests: tuple[n.Test, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)


def check(
    ruleset: n.Ruleset,
    *,
    source: str | None = None,
    tests: Sequence[n.Test] = (),
    sources: Mapping[str, str] | None = None,
) -> CheckedRuleset:
    """Check ``ruleset`` (and the trailing ``tests`` of its file); never raises for a bad ruleset.

    ``source`` (the file's text) lets diagnostics point at the declared name
    rather than the start of its declaration; ``sources`` (file → text) does
    the same for declarations inherited from other files.
    """
    texts = dict(sources or {})
    if source is not None:
        texts[ruleset.span.file] = source
    checker = _Checker(ruleset, texts, tests)
    try:
        return checker.run()
    except RecursionError:
        span = ruleset.span
        diag = Diagnostic(
            ERROR,
            "the ruleset is nested too deeply to check",
            n.Span(span.line or 1, span.column or 1, span.line or 1, (span.column or 1) + 1, span.file),
            "limit",
            "split deeply nested expressions into lets",
        )
        return CheckedRuleset(ruleset, {}, (diag,), ())


def check_source(text: str, path: str = "<string>") -> CheckedRuleset:
    """Parse and check a file's text. Syntax errors raise `RulesetError`; check
    diagnostics are returned for the caller to judge (see `require_ok`)."""
    source_file = parse(text, path)
    if source_file.ruleset is None:
        raise RulesetError(
            [Diagnostic(ERROR, "the file has no ruleset", n.Span(1, 1, 1, 2, path), "syntax")],
            source_file.source,
        )
    return check(source_file.ruleset, source=source_file.source, tests=source_file.tests)


def require_ok(checked: CheckedRuleset, source: str | None) -> CheckedRuleset:
    """Return ``checked`` unchanged, or raise `RulesetError` with every diagnostic if any is an error."""
    if not checked.ok:
        raise RulesetError(list(checked.diagnostics), source)
    return checked


# ---------------------------------------------------------------- the checker


class _Checker:
    """One run over one ruleset; holds the tables built once and the diagnostics."""

    def __init__(self, ruleset: n.Ruleset, sources: Mapping[str, str], tests: Sequence[n.Test]) -> None:
        self.ruleset = ruleset
        self.sources = sources
        self.line_cache: dict[str, list[str]] = {}
        self.trailing_tests = tuple(tests)
        self.diags: list[Diagnostic] = []
        self.symbols: dict[str, Symbol] = {}
        self.declared: dict[str, tuple[str, n.Span]] = {}  # every declared name → (kind, name span)
        self.lets: dict[str, n.Let] = {}
        self.inputs: dict[str, n.Input] = {}
        self.titles: list[n.Title] = []
        self.value_owners: dict[str, list[str]] = {}
        self.enum_names: dict[tuple[str, ...], str] = {}
        # dependency graph: node → names it uses; node → position in source
        self.deps: dict[str, list[str]] = {}
        self.position: dict[str, int] = {}
        self.node_span: dict[str, n.Span] = {}
        self.bloc_users: set[str] = set()
        # lazy let typing
        self.let_types: dict[str, Type] = {}
        self.let_busy: set[str] = set()
        self.let_exprs: dict[str, n.Expr] = {}
        # id(original declaration node) → its rewritten node, to point symbols at the latter
        self.rewritten: dict[int, Any] = {}
        self.env: Env
        self.ec: ExprChecker

    # ------------------------------------------------------------------ run

    def run(self) -> CheckedRuleset:
        self._declare()
        self.env = Env(
            symbols=self.symbols,
            title_index={ti.name: i for i, ti in enumerate(self.titles)},
            value_owners=self.value_owners,
            enum_names=self.enum_names,
            let_type=self._let_type,
            zero_reason=InputRanges(self.inputs).zero_reason,
            has_classify="level" in self.symbols,
        )
        self.ec = ExprChecker(self.env, self.diags)
        self.values = ValueChecker(self._error, self.enum_names)
        # Type lets dependencies first, so that typing one rarely recurses into another
        # (a long chain of lets written last-first must not exhaust the stack).
        let_graph = {
            name: [d for d in names_in(let.expr) if d in self.lets] for name, let in self.lets.items()
        }
        let_position = {name: i for i, name in enumerate(self.lets)}
        for name in evaluation_order(let_graph, let_position)[0]:
            self._let_type(name)
        for item in self.ruleset.items:
            self.rewritten[id(item)] = self._item(item)
        if self.symbols["score"].node is None:
            # The default score: max(0, Σ groups + bonus − penalty) (SPEC §1.5).
            parts = [g.name for g in self.ruleset.groups if self.symbols.get(g.name, None) is not None]
            parts += [w for w in ("bonus", "penalty") if w in self.symbols]
            self.ec.uses_bloc = False
            self._node("score", parts, self._head(self.ruleset.span))
        items = tuple(self.rewritten[id(i)] for i in self.ruleset.items)
        rewritten = replace(self.ruleset, items=items)
        tests = tuple(self._test(test) for test in self.trailing_tests)
        inner_tests = tuple(i for i in items if isinstance(i, n.Test))
        position = self._source_positions()
        order, cycles = evaluation_order(self.deps, position)
        for path in cycles:
            self._error(
                f"cycle: {' -> '.join(path)}",
                self.node_span[path[0]],
                "cycle",
                "a let, criterion, group, score or level cannot depend on itself",
            )
        self._bloc_purity(order)
        symbols = {
            name: replace(sym, node=self.rewritten.get(id(sym.node), sym.node))
            for name, sym in self.symbols.items()
        }
        diagnostics = tuple(sorted(self.diags, key=Diagnostic.sort_key))
        return CheckedRuleset(rewritten, symbols, diagnostics, order, inner_tests + tests)

    # ---------------------------------------------------------- diagnostics

    def _error(self, message: str, span: n.Span, code: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(ERROR, message, span, code, hint))

    def _warn(self, message: str, span: n.Span, code: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(WARNING, message, span, code, hint))

    def _line(self, span: n.Span) -> str | None:
        """The source line a span starts on, when its file's text is known."""
        lines = self.line_cache.get(span.file)
        if lines is None:
            text = self.sources.get(span.file)
            if text is None:
                return None
            lines = self.line_cache[span.file] = source_lines(text)
        return lines[span.line - 1] if 1 <= span.line <= len(lines) else None

    def _name_span(self, span: n.Span, name: str) -> n.Span:
        """The span of ``name`` inside a declaration that starts at ``span``."""
        line = self._line(span)
        if line is not None:
            at = _find_word(line, name, max(0, span.column - 1))
            if at >= 0:
                return n.Span(span.line, at + 1, span.line, at + len(name) + 1, span.file)
        return self._head(span)

    def _head(self, span: n.Span) -> n.Span:
        """The first line of a (possibly multi-line) span."""
        if span.end_line == span.line:
            return span
        line = self._line(span)
        end = len(line) + 1 if line is not None else span.column + 1
        return n.Span(span.line, span.column, span.line, max(end, span.column + 1), span.file)

    # --------------------------------------------------------- declarations

    def _declare(self) -> None:
        first_of: dict[type, n.Span] = {}
        for item in self.ruleset.items:
            kind = type(item)
            if kind in SINGLETONS:
                if kind in first_of:
                    self._error(
                        f"more than one `{SINGLETONS[kind]}` in the ruleset",
                        self._head(item.span),
                        "duplicate",
                        f"the first is at line {first_of[kind].line}",
                    )
                    continue
                first_of[kind] = item.span
            if isinstance(item, n.Input):
                self.inputs.setdefault(item.name, item)
                self._symbol(item.name, "input", self._input_type(item), item)
            elif isinstance(item, n.Let):
                if self._symbol(item.name, "let", t.ERROR, item):
                    self.lets[item.name] = item
            elif isinstance(item, n.Group):
                self._symbol(item.name, "group", t.NUMBER, item)
                for c in item.criteria:
                    self._symbol(c.name, "criterion", t.NUMBER, c, item.name)
            elif isinstance(item, n.Bonus | n.Penalty):
                word = "bonus" if isinstance(item, n.Bonus) else "penalty"
                self.symbols[word] = Symbol(word, word, t.NUMBER, item)
                for c in item.criteria:
                    self._symbol(c.name, "criterion", t.NUMBER, c, word)
            elif isinstance(item, n.Title):
                if self._symbol(item.name, "title", t.BOOL, item):
                    self.titles.append(item)
            elif isinstance(item, n.Classify):
                names: list[str] = []
                for level in item.levels:
                    if self._declare_name(level.name, "level", level.span) and level.name not in names:
                        names.append(level.name)
                ty = t.level(tuple(names))
                self.symbols["level"] = Symbol("level", "level", ty, item)
                for v in names:
                    self.value_owners.setdefault(v, []).append("level")
            elif isinstance(item, n.Remove) and self.ruleset.parent is None:
                self._error(
                    f"`remove {item.kind} {item.name}` in a ruleset that extends no other",
                    item.span,
                    "remove",
                    "`remove` deletes a declaration inherited with `extends`",
                )
        score = self.ruleset.first(n.ScoreDef)
        self.symbols["score"] = Symbol("score", "score", t.NUMBER, score)
        for name, ty in (("rank", t.INT), ("bloc_size", t.INT), ("unit", t.UNIT), ("leader", t.UNIT)):
            self.symbols.setdefault(name, Symbol(name, "builtin", ty, None))

    def _declare_name(self, name: str, kind: str, span: n.Span) -> bool:
        """Record a declared name; report built-in names and duplicates. True if new."""
        where = self._name_span(span, name)
        if name in BUILTIN_NAMES:
            self._error(
                f"'{name}' is a built-in name and cannot be declared as {_KIND_WORDS[kind]}",
                where,
                "builtin-name",
            )
            return False
        if name in self.declared:
            first_kind, first_span = self.declared[name]
            self._error(
                f"'{name}' is declared twice: it is already {_KIND_WORDS[first_kind]} at line {first_span.line}",
                where,
                "duplicate",
                "each name is declared once",
            )
            return False
        self.declared[name] = (kind, where)
        return True

    def _symbol(self, name: str, kind: str, ty: Type, node: Any, section: str | None = None) -> bool:
        if not self._declare_name(name, kind, node.span):
            return False
        self.symbols[name] = Symbol(name, kind, ty, node, section)
        return True

    def _input_type(self, item: n.Input) -> Type:
        return self._type_expr(item.type, item.name, top=True)

    def _type_expr(self, te: n.TypeExpr, owner: str, top: bool) -> Type:
        if isinstance(te, n.SimpleType):
            return {
                "int": t.INT,
                "decimal": t.NUMBER,
                "bool": t.BOOL,
                "text": t.TEXT,
                "date": t.DATE,
            }.get(te.name, t.ERROR)
        if isinstance(te, n.EnumType):
            seen: set[str] = set()
            for v in te.values:
                if v in seen:
                    self._error(f"enum value '{v}' is listed twice", te.span, "duplicate")
                seen.add(v)
                self.value_owners.setdefault(v, [])
                if owner not in self.value_owners[v]:
                    self.value_owners[v].append(owner)
            values = tuple(dict.fromkeys(te.values))
            self.enum_names.setdefault(values, owner)
            return t.enum(values)
        if not top:
            self._error(
                "a record field cannot be a list: fields are numbers, bools, text, dates or enums",
                te.span,
                "type",
            )
            return t.ERROR
        fields: list[tuple[str, Type]] = []
        names: set[str] = set()
        for f in te.fields:
            if f.name in names:
                self._error(f"record field '{f.name}' is declared twice", f.span, "duplicate")
                continue
            names.add(f.name)
            fields.append((f.name, self._type_expr(f.type, f"{owner}.{f.name}", top=False)))
        return t.list_of(tuple(fields))

    # ---------------------------------------------------------------- items

    def _item(self, item: Any) -> Any:
        if isinstance(item, n.Input):
            return self._input(item)
        if isinstance(item, n.Let):
            return self._let(item)
        if isinstance(item, n.Group | n.Bonus | n.Penalty):
            return self._section(item)
        if isinstance(item, n.ScoreDef):
            expr = self._decl("score", item.expr, Scope(RULESET, owner="score"), "`score`", item.span)
            return replace(item, expr=expr)
        if isinstance(item, n.Classify):
            return self._classify(item)
        if isinstance(item, n.Ranking):
            keys = tuple(
                replace(k, expr=self.ec.sort_key(k.expr, Scope(RULESET, owner="ranking"), "a ranking key"))
                for k in item.keys
            )
            return replace(item, keys=keys)
        if isinstance(item, n.Title):
            return self._title(item)
        if isinstance(item, n.Rotation):
            return self._rotation(item)
        if isinstance(item, n.Test):
            return self._test(item)
        return item

    def _decl(
        self, node: str, expr: n.Expr, scope: Scope, what: str, span: n.Span, want: str = "number"
    ) -> n.Expr:
        """Check one graph node's expression; record what it uses."""
        self.ec.deps, self.ec.uses_bloc = [], False
        out, _ = self.ec.expect(expr, scope, want, what)
        self._node(node, self.ec.deps, span)
        return out

    def _node(self, name: str, deps: list[str], span: n.Span) -> None:
        if name in self.deps:
            return  # a duplicate declaration: the first one is in the graph
        self.deps[name] = list(deps)
        self.node_span[name] = span
        if self.ec.uses_bloc:
            self.bloc_users.add(name)

    def _input(self, item: n.Input) -> n.Input:
        ty = (
            self._input_type(item) if self.inputs.get(item.name) is not item else self.symbols[item.name].type
        )
        constraint = item.constraint
        if constraint is not None:
            scope = Scope(CONSTRAINT, input_name=item.name, owner=f"input '{item.name}'")
            if ty.kind != "error" and ty.kind not in ("number", "date"):
                self._error(
                    f"input '{item.name}' is {_type_words(ty)}; only number and date inputs take a constraint",
                    constraint.span,
                    "type",
                )
            bounds: list[n.Expr] = []
            for bound in (constraint.low, constraint.high):
                if bound is None:
                    continue
                out, bt = self.ec.expr(bound, scope)
                if ty.kind in ("number", "date") and bt.kind not in ("error", ty.kind):
                    self._error(
                        f"a bound of '{item.name}' must be {a_kind(ty.kind)}, but this is {_type_words(bt)}",
                        bound.span,
                        "type",
                    )
                bounds.append(out)
            low = bounds[0]
            high = bounds[1] if len(bounds) > 1 else None
            constraint = replace(constraint, low=low, high=high)
        default = item.default
        if default is not None:
            default = self.values.value(default, ty, f"the default of '{item.name}'")
        return replace(item, constraint=constraint, default=default)

    def _let_type(self, name: str) -> Type:
        """The type of let ``name``, checking it on first use (lets may be used before they are declared)."""
        if name in self.let_types:
            return self.let_types[name]
        if name in self.let_busy:
            return t.ERROR  # a cycle: reported once, from the dependency graph
        let = self.lets[name]
        self.let_busy.add(name)
        saved = self.ec.deps, self.ec.uses_bloc
        self.ec.deps, self.ec.uses_bloc = [], False
        out, ty = self.ec.expr(let.expr, Scope(RULESET, owner=f"let '{name}'"))
        if ty.kind == "list":
            self._error(
                f"let '{name}' holds a list; a let must be a number, bool, text, date, enum or level",
                let.expr.span,
                "type",
                "use count(…), any(…), all(…) or sum(… of …) over the list input",
            )
            ty = t.ERROR
        self._node(name, self.ec.deps, self._name_span(let.span, name))
        self.ec.deps, self.ec.uses_bloc = saved
        self.let_busy.discard(name)
        self.let_types[name] = ty
        self.let_exprs[name] = out
        self.symbols[name] = replace(self.symbols[name], type=ty)
        return ty

    def _let(self, item: n.Let) -> n.Let:
        if self.lets.get(item.name) is item:
            self._let_type(item.name)
            return replace(item, expr=self.let_exprs[item.name])
        out, _ = self.ec.expr(item.expr, Scope(RULESET, owner=f"let '{item.name}'"))
        return replace(item, expr=out)

    def _section(self, item: n.Group | n.Bonus | n.Penalty) -> n.Group | n.Bonus | n.Penalty:
        criteria = []
        names: list[str] = []
        for c in item.criteria:
            span = self._name_span(c.span, c.name)
            expr = self._decl(
                c.name, c.expr, Scope(RULESET, owner=f"criterion '{c.name}'"), f"criterion '{c.name}'", span
            )
            criteria.append(replace(c, expr=expr))
            self.rewritten[id(c)] = criteria[-1]
            names.append(c.name)
        if isinstance(item, n.Group):
            node = item.name
            span = self._name_span(item.span, item.name)
            self._group_maxima(item, span)
        else:
            node = "bonus" if isinstance(item, n.Bonus) else "penalty"
            span = self._head(item.span)
        self.ec.uses_bloc = False
        self._node(node, names, span)
        return replace(item, criteria=tuple(criteria))

    def _group_maxima(self, group: n.Group, span: n.Span) -> None:
        unbounded = [c.name for c in group.criteria if c.max is None]
        if unbounded:
            self._warn(
                f"group '{group.name}': criterion '{unbounded[0]}' has no max, so the criteria's "
                f"total is unbounded and only the group max {group.max.text} caps it",
                span,
                "group-max-unbounded",
                "give every criterion of a group a max",
            )
            return
        total = sum((c.max.value for c in group.criteria if c.max is not None), Decimal(0))
        if total != group.max.value:
            self._warn(
                f"group '{group.name}': its criteria's maxima sum to {_num(total)}, "
                f"but the group max is {group.max.text}",
                span,
                "group-max",
            )

    def _classify(self, item: n.Classify) -> n.Classify:
        scope = Scope(CLASSIFY, owner="classify")
        self.ec.deps, self.ec.uses_bloc = [], False
        levels: list[n.Level] = []
        for level in item.levels:
            when = unless = None
            if level.when is not None:
                when, _ = self.ec.expect(level.when, scope, "bool", f"the `when` of level '{level.name}'")
            if level.unless is not None:
                unless, _ = self.ec.expect(
                    level.unless, scope, "bool", f"the `unless` of level '{level.name}'"
                )
            levels.append(replace(level, when=when, unless=unless))
        self._node("level", self.ec.deps, self._head(item.span))
        if not levels:
            self._error("`classify` has no levels", self._head(item.span), "classify")
        else:
            for level in levels[:-1]:
                if level.when is None:
                    self._error(
                        f"level '{level.name}' is `otherwise` but is not the last level",
                        self._name_span(level.span, level.name),
                        "classify",
                        "`otherwise` catches every unit: the levels after it could never be reached",
                    )
            last = levels[-1]
            if last.when is not None:
                self._error(
                    f"the last level '{last.name}' must be `otherwise`",
                    self._name_span(last.span, last.name),
                    "classify",
                    f'end with e.g. `level {last.name} "…" otherwise`, so every unit gets a level',
                )
            self._unreachable(levels)
        return replace(item, levels=tuple(levels))

    def _unreachable(self, levels: list[n.Level]) -> None:
        index = ConditionIndex()
        for level in levels:
            if level.when is None:
                continue
            span = self._name_span(level.span, level.name)
            if isinstance(level.when, n.BoolLit) and not level.when.value:
                self._warn(
                    f"level '{level.name}' can never be reached: its `when` is false",
                    span,
                    "unreachable-level",
                )
                continue
            earlier = index.implied_by(level.when)
            if earlier is not None:
                self._warn(
                    f"level '{level.name}' can never be reached: every unit its `when` admits "
                    f"is already classified '{earlier}'",
                    span,
                    "unreachable-level",
                    "order levels best first with stricter conditions first",
                )
            if level.unless is None:
                index.add(level.when, level.name)

    def _title(self, item: n.Title) -> n.Title:
        index = self.env.title_index.get(item.name, len(self.titles))
        if self.symbols.get(item.name, None) is None or self.symbols[item.name].node is not item:
            index = len(self.titles)  # a duplicate title sees every title before the end
        scope = Scope(TITLE, title_index=index, owner=f"title '{item.name}'")
        requires = []
        for r in item.requires:
            expr, _ = self.ec.expect(r.expr, scope, "bool", "a requirement")
            requires.append(replace(r, expr=expr))
        rank_by = None
        if item.rank_by is not None:
            rank_by = tuple(
                replace(k, expr=self.ec.sort_key(k.expr, scope, "a `rank by` key")) for k in item.rank_by
            )
        return replace(item, requires=tuple(requires), rank_by=rank_by)

    def _rotation(self, item: n.Rotation) -> n.Rotation:
        roles = {r.role for r in item.rules}
        for role in ("leader", "deputy"):
            if role not in roles:
                self._error(
                    f"the rotation has no `{role}` rule",
                    self._head(item.span),
                    "rotation",
                    f"add e.g. `{role} = next after current.{role}`",
                )
        rules = []
        for rule in item.rules:
            deputy = rule.role == "deputy"
            picks: list[n.Pick] = []
            for pick in rule.picks:
                where_scope = Scope(ROTATION, leader=deputy, owner=f"rotation {rule.role}")
                if isinstance(pick, n.NextAfterPick):
                    anchor, at = self.ec.expr(pick.anchor, Scope(ANCHOR, leader=deputy, owner="next after"))
                    if at.kind not in ("error", "unit"):
                        self._error(
                            f"`next after` needs a unit, but this is {_type_words(at)}",
                            pick.anchor.span,
                            "type",
                            "e.g. next after current.leader" + (" or next after leader" if deputy else ""),
                        )
                    where = self._where(pick.where, where_scope)
                    picks.append(replace(pick, anchor=anchor, where=where))
                elif isinstance(pick, n.FirstOfPick):
                    picks.append(replace(pick, where=self._where(pick.where, where_scope)))
                else:
                    picks.append(pick)
            rules.append(replace(rule, picks=tuple(picks)))
        return replace(item, rules=tuple(rules))

    def _where(self, where: n.Expr | None, scope: Scope) -> n.Expr | None:
        if where is None:
            return None
        out, _ = self.ec.expect(where, scope, "bool", "a `where` condition")
        return out

    # ---------------------------------------------------------------- tests

    def _test(self, test: n.Test) -> n.Test:
        if test.target is not None and test.target != (self.ruleset.name, self.ruleset.version):
            return test  # written for another ruleset: checked when that one is
        given: list[n.Given] = []
        named: set[str] = set()
        for g in test.given:
            sym = self.symbols.get(g.name)
            head = self._name_span(g.span, g.name)
            if sym is None or sym.kind != "input":
                if sym is None:
                    hint = did_you_mean(g.name, self.inputs)
                    self._error(f"unknown input '{g.name}'", head, "unknown-name", hint)
                else:
                    self._error(f"'{g.name}' is not an input; `given` sets inputs only", head, "test")
                given.append(g)
                continue
            named.add(g.name)
            given.append(replace(g, value=self.values.value(g.value, sym.type, f"'{g.name}'")))
        missing = [
            name
            for name, inp in self.inputs.items()
            if inp.default is None and name not in named and self.symbols.get(name, None) is not None
        ]
        if missing:
            self._error(
                f'test "{test.label}" gives no value for {names_phrase(missing)}, which '
                f"{'has' if len(missing) == 1 else 'have'} no default",
                self._head(test.span),
                "test",
            )
        expects = []
        for ex in test.expects:
            expr, _ = self.ec.expect(ex.expr, Scope(TEST, owner="expect"), "bool", "an `expect`")
            expects.append(replace(ex, expr=expr))
        return replace(test, given=tuple(given), expects=tuple(expects))

    # -------------------------------------------------- graph, order, purity

    def _source_positions(self) -> dict[str, int]:
        """Each graph node's place in the source, for a stable order and cycle messages."""
        names: list[str] = []
        for item in self.ruleset.items:
            if isinstance(item, n.Let):
                names.append(item.name)
            elif isinstance(item, n.Group | n.Bonus | n.Penalty):
                names.extend(c.name for c in item.criteria)
                names.append(item.name if isinstance(item, n.Group) else type(item).__name__.lower())
            elif isinstance(item, n.ScoreDef):
                names.append("score")
            elif isinstance(item, n.Classify):
                names.append("level")
        names.append("score")  # the default score comes after everything it sums
        position: dict[str, int] = {}
        for name in names:
            position.setdefault(name, len(position))
        return position

    def _bloc_purity(self, order: tuple[str, ...]) -> None:
        """A bloc aggregate may use inputs and lets only; a let it uses must not
        itself depend on points or contain a bloc aggregate (SPEC §1.3)."""
        culprit: dict[str, str | None] = {}
        # `order` puts dependencies first, so one pass decides every node.
        for node in order:
            sym = self.symbols.get(node)
            if sym is not None and sym.kind in POINT_KINDS:
                culprit[node] = (
                    f"'{node}' (the {sym.kind})" if sym.kind == node else f"'{node}' (a {sym.kind})"
                )
            elif node in self.bloc_users:
                culprit[node] = f"a bloc aggregate (in let '{node}')"
            else:
                culprit[node] = next((c for d in self.deps[node] if (c := culprit.get(d))), None)
        for let, span, func in self.ec.bloc_lets:
            why = culprit.get(let)
            if why is not None:
                self._error(
                    f"`{func}` may use only inputs and lets without points, but let '{let}' uses {why}",
                    span,
                    "bloc",
                )


# -------------------------------------------------------------- helpers


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return text


def _type_words(ty: Type) -> str:
    return {"enum": "an enum", "list": "a list", "level": "a level"}.get(ty.kind, f"a {ty.kind}")


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _find_word(line: str, name: str, start: int) -> int:
    """Where ``name`` stands as a whole word in ``line`` at or after ``start``, or -1.

    A plain search rather than a regex per name: a ruleset declares thousands
    of names, more than the ``re`` module's pattern cache holds.
    """
    at = line.find(name, start)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or not _is_word_char(line[at - 1])) and (
            end == len(line) or not _is_word_char(line[end])
        ):
            return at
        at = line.find(name, at + 1)
    return -1
