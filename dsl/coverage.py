"""Test coverage of a ruleset: which decisions its ``test`` blocks exercised, both ways.

This module owns ``thidua test --coverage``. A ruleset's decisions are its
*items*, each with the outcomes a thorough test suite should see:

* a criterion: ``full`` (its max) and ``not full`` — or ``zero`` and
  ``positive`` when it has no max;
* a table: each row (``row 1``, …, ``else``) matched at least once;
* an ``if``: ``then`` and ``else`` taken;
* a level: its ``when`` true and false, and its ``unless`` true and false
  (an ``unless`` is only evaluated when ``when`` holds);
* a title's ``require``: ``passed`` and ``failed`` (undecided — needs the
  bloc — counts for neither).

Each test's ``given`` is scored (as ``thidua test`` does) and a small walker
then follows the evaluation the way the interpreter does it — only the
branch an ``if`` takes, only the row a table matches, ``where``/``of`` per
record — recording outcomes; expression values come from the reference
interpreter (`dsl.interpreter.evaluate`), so coverage sees exactly what
evaluation did. Which tests apply to which ruleset follows `dsl.testing`:
tests without ``for`` belong to their own file's ruleset, others to the
ruleset they name among the files covered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl import nodes as n
from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from dsl.inputs import literal_value
from dsl.interpreter import Env, MapEnv, RecordEnv, evaluate, table
from dsl.parser import parse
from dsl.runtime import children, walk
from dsl.testing import discover

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

__all__ = ["Item", "RulesetCoverage", "measure", "measure_ruleset"]


@dataclass
class Item:
    """One decision of the ruleset and the outcomes tests produced for it."""

    kind: str
    owner: str
    span: n.Span
    outcomes: tuple[str, ...]
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(o for o in self.outcomes if not self.seen.get(o))

    def where(self) -> str:
        return f"{self.span.file}:{self.span.line}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "owner": self.owner,
            "file": self.span.file,
            "line": self.span.line,
            "outcomes": {o: self.seen.get(o, 0) for o in self.outcomes},
            "missing": list(self.missing),
        }


@dataclass
class RulesetCoverage:
    """The coverage of one ruleset by the tests that target it."""

    name: str
    version: str
    path: str
    tests: int
    items: list[Item]
    errors: list[str] = field(default_factory=list)
    #: Requirements only a bloc decides (rank, bloc size, aggregates): not measured.
    bloc_only: int = 0

    @property
    def total(self) -> int:
        return sum(len(i.outcomes) for i in self.items)

    @property
    def covered(self) -> int:
        return sum(len(i.outcomes) - len(i.missing) for i in self.items)

    @property
    def percent(self) -> Decimal:
        return percent_of(self.covered, self.total)

    def lines(self, *, full: bool = False) -> Iterator[str]:
        """A header with the totals, then each item with an outcome no test produced."""
        yield (
            f"coverage {self.name} {self.version} ({self.path}): {self.covered}/{self.total} outcomes "
            f"({self.percent}%) by {self.tests} test{'s' if self.tests != 1 else ''}"
        )
        for e in self.errors:
            yield f"  {e}"
        if self.bloc_only:
            yield f"  ({self.bloc_only} requirement(s) need the bloc and are not measured by unit tests)"
        for item in self.items:
            if item.missing:
                yield f"  {item.where()}: {item.kind} {item.owner}: never {', '.join(item.missing)}"
            elif full:
                yield f"  {item.where()}: {item.kind} {item.owner}: covered"

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset": {"name": self.name, "version": self.version, "path": self.path},
            "tests": self.tests,
            "covered": self.covered,
            "total": self.total,
            "percent": str(self.percent),
            "items": [i.to_json() for i in self.items],
            "errors": self.errors,
            "bloc_only": self.bloc_only,
        }


# ------------------------------------------------------------------ items


class _Items:
    """Every decision of a checked ruleset, keyed by the node (by identity) that makes it."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.items: list[Item] = []
        self.by_node: dict[int, Item] = {}
        plan = compiled.plan
        for name in plan.lets:
            self._expr(plan.lets[name].expr, f"let {name}")
        for c, _ in plan.criteria:
            outcomes = ("full", "not full") if c.max is not None else ("zero", "positive")
            self._add(c, Item("criterion", c.name, c.span, outcomes))
            self._expr(c.expr, f"criterion {c.name}")
        if plan.score_def is not None:
            self._expr(plan.score_def.expr, "score")
        for lv in plan.levels:
            if lv.when is not None:
                self._add(lv.when, Item("level when", lv.name, lv.span, ("true", "false")))
                self._expr(lv.when, f"level {lv.name}")
            if lv.unless is not None:
                self._add(lv.unless, Item("level unless", lv.name, lv.span, ("true", "false")))
                self._expr(lv.unless, f"level {lv.name}")
        self.bloc_only = 0
        for tp in plan.titles:
            for i, rp in enumerate(tp.requires, start=1):
                if rp.needs_rank or rp.has_aggregate:
                    # A unit alone never decides these; unit tests cannot cover them.
                    self.bloc_only += 1
                    continue
                owner = f"{tp.title.name} #{i} ({rp.text or 'require'})"
                self._add(rp.require.expr, Item("require", owner, rp.require.span, ("passed", "failed")))
                self._expr(rp.require.expr, f"title {tp.title.name}")

    def _add(self, node: Any, item: Item) -> None:
        self.items.append(item)
        self.by_node[id(node)] = item

    def _expr(self, e: n.Expr, owner: str) -> None:
        for x in walk(e):
            if isinstance(x, n.Table):
                rows = tuple(f"row {i}" for i in range(1, len(x.rows) + 1))
                outcomes = rows + (("else",) if x.default is not None else ())
                self._add(x, Item("table", f"in {owner}", x.span, outcomes))
            elif isinstance(x, n.IfExpr):
                self._add(x, Item("if", f"in {owner}", x.span, ("then", "else")))


class _Walker:
    """Follows one evaluation like the interpreter and records the outcomes of tables and ifs."""

    def __init__(self, items: _Items) -> None:
        self.items = items

    def hit(self, node: Any, outcome: str) -> None:
        item = self.items.by_node.get(id(node))
        if item is not None:
            item.seen[outcome] = item.seen.get(outcome, 0) + 1

    def walk(self, e: n.Expr, env: Env) -> None:
        """Record outcomes along the path evaluation takes; errors end that path quietly."""
        # The test run itself reports evaluation errors; coverage just stops following that path.
        with contextlib.suppress(EvaluationError, ArithmeticError, TypeError):
            self._walk(e, env)

    def _walk(self, e: n.Expr, env: Env) -> None:
        if isinstance(e, n.IfExpr):
            self._walk(e.cond, env)
            taken = bool(evaluate(e.cond, env))
            self.hit(e, "then" if taken else "else")
            self._walk(e.then if taken else e.otherwise, env)
            return
        if isinstance(e, n.Table):
            self._walk(e.subject, env)
            _, row = table(e, env)
            self.hit(e, f"row {row}" if row else "else")
            self._walk(e.rows[row - 1].result if row else e.default or e.subject, env)
            return
        if isinstance(e, n.Binary) and e.op in ("and", "or"):
            self._walk(e.left, env)
            left = bool(evaluate(e.left, env))
            if left == (e.op == "and"):
                self._walk(e.right, env)
            return
        if isinstance(e, n.ListAgg):
            self._walk(e.source, env)
            for record in evaluate(e.source, env):
                inner = RecordEnv(env, record)
                if e.where is not None:
                    self._walk(e.where, inner)
                if e.of is not None and (e.where is None or evaluate(e.where, inner)):
                    self._walk(e.of, inner)
            return
        for c in children(e):
            self._walk(c, env)


# ------------------------------------------------------------------ measuring


def measure_ruleset(
    compiled: CompiledRuleset, tests: Sequence[n.Test], path: str | None = None
) -> RulesetCoverage:
    """The coverage of ``compiled`` by ``tests`` (checked test nodes, given values as literals)."""
    items = _Items(compiled)
    walker = _Walker(items)
    plan = compiled.plan
    cov = RulesetCoverage(
        compiled.name, compiled.version, path or compiled.path, len(tests), items.items, [], items.bloc_only
    )
    for test in tests:
        try:
            raw = {g.name: literal_value(g.value) for g in test.given}
            result = compiled.score(raw, explain=True)
        except (ValueError, InputError, EvaluationError) as exc:
            cov.errors.append(f'{test.span.file}:{test.span.line}: test "{test.label}" cannot run: {exc}')
            continue
        values = dict(result.values)
        env = MapEnv(values, enum_values=plan.enum_values, rounding_mode=plan.mode)
        for name in plan.lets:
            walker.walk(plan.lets[name].expr, env)
        assert result.explanation is not None
        for cr in result.explanation.criteria:
            c = next(c for c, _ in plan.criteria if c.name == cr.name)
            if c.max is not None:
                walker.hit(c, "full" if cr.points >= c.max.value else "not full")
            else:
                walker.hit(c, "positive" if cr.points > 0 else "zero")
            walker.walk(c.expr, env)
        if plan.score_def is not None:
            walker.walk(plan.score_def.expr, env)
        decision = result.explanation.level
        steps = {s.level: s for s in decision.steps} if decision is not None else {}
        for lv in plan.levels:
            step = steps.get(lv.name)
            if step is None or lv.when is None:
                continue
            walker.hit(lv.when, "true" if step.when else "false")
            walker.walk(lv.when, env)
            if lv.unless is not None and step.unless is not None:
                walker.hit(lv.unless, "true" if step.unless else "false")
                walker.walk(lv.unless, env)
        scope = dict(values)
        for name, tr in result.titles.items():
            scope[name] = {"eligible": True, "not_eligible": False}.get(tr.status)
        title_env = MapEnv(scope, enum_values=plan.enum_values, rounding_mode=plan.mode)
        for tp in plan.titles:
            for rp, rr in zip(tp.requires, result.titles[tp.title.name].requires, strict=True):
                if rr.passed is None or id(rp.require.expr) not in items.by_node:
                    continue
                walker.hit(rp.require.expr, "passed" if rr.passed else "failed")
                walker.walk(rp.require.expr, title_env)
    return cov


def measure(path: str | Path) -> list[RulesetCoverage]:
    """The coverage of every ruleset under ``path`` by the tests written for it there."""
    from dsl.api import load_ruleset

    files = discover(path)
    parsed: list[tuple[Path, n.SourceFile]] = []
    for f in files:
        try:
            parsed.append((f, parse(f.read_text(encoding="utf-8"), str(f))))
        except (OSError, UnicodeDecodeError, RulesetError):
            continue  # `thidua test` reports unreadable and unparsable files
    foreign: dict[tuple[str, str], list[n.Test]] = {}
    for _, sf in parsed:
        own = (sf.ruleset.tests if sf.ruleset is not None else []) + list(sf.tests)
        for t in own:
            if t.target is not None:
                foreign.setdefault(t.target, []).append(t)
    out: list[RulesetCoverage] = []
    for f, sf in parsed:
        if sf.ruleset is None:
            continue
        try:
            compiled = load_ruleset(f)
        except (RulesetError, NotFoundError, InputError):
            continue
        mine = [t for t in compiled.checked.tests if t.target is None and t.span.file == str(f)]
        key = (sf.ruleset.name, sf.ruleset.version)
        tests = mine + [_checked(compiled, t) for t in foreign.get(key, [])]
        out.append(measure_ruleset(compiled, tests, str(f)))
    return out


def _checked(compiled: CompiledRuleset, test: n.Test) -> n.Test:
    """A test from another file, as the checker rewrote it when it checked its own file (if it did)."""
    for t in compiled.checked.tests:
        if t.label == test.label and t.span.line == test.span.line and t.span.file == test.span.file:
            return t
    return test


def totals(reports: Sequence[RulesetCoverage]) -> tuple[int, int]:
    """Covered and total outcomes over several rulesets."""
    return sum(r.covered for r in reports), sum(r.total for r in reports)


def percent_of(covered: int, total: int) -> Decimal:
    return Decimal(100) if not total else (Decimal(100) * covered / total).quantize(Decimal("0.1"))
