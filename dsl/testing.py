"""Running the ``test`` blocks written in ruleset files (SPEC §1.9).

This module owns discovery (every ``.rules`` file under a folder), matching a
test to its ruleset (its own file's, or the one named by ``for NAME version
"V"`` found among the files by their declared name and version, then in the
registry), and running it: ``given`` values become a submission (inputs with
defaults may be left out), the unit is scored, and each ``expect`` is
evaluated over the result's names — inputs, lets, criteria, groups,
``bonus``, ``penalty``, ``score``, ``level`` and titles as eligibility
(true/false; an undecided title fails the expectation with a clear message).

A failure is data (`TestOutcome`) with the expectation's text, its line and
the values of the names it used, rendered by `TestReport.lines`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from dsl import nodes as n
from dsl import runtime as rt
from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from dsl.inputs import literal_value
from dsl.interpreter import MapEnv, evaluate
from dsl.parser import parse
from dsl.results import fmt_decimal, value_to_json

#: Names whose values print with the ruleset's decimal places.
_POINT_KINDS = frozenset({"criterion", "group", "bonus", "penalty", "score"})


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One test's result: ``failures`` holds one message per failed expectation (or setup problem)."""

    path: str
    line: int
    label: str
    failures: tuple[tuple[int, str], ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class TestReport:
    """Every test run under a path, in file and line order."""

    outcomes: tuple[TestOutcome, ...] = ()
    files: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.passed)

    def lines(self) -> Iterator[str]:
        """``path:line: FAIL "label": message`` for every failure, then ``N passed, M failed``."""
        yield from self.notes
        for o in self.outcomes:
            for line, message in o.failures:
                yield f'{o.path}:{line}: FAIL "{o.label}": {message}'
        yield f"{self.passed} passed, {self.failed} failed"


def discover(path: str | Path) -> list[Path]:
    """The ``.rules`` files at ``path`` (a file, or every file under a folder), sorted."""
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted(q for q in p.rglob("*.rules") if q.is_file())


class _Runner:
    def __init__(self) -> None:
        self.compiled: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.index: dict[tuple[str, str], Path] = {}
        self.sources: dict[str, str] = {}
        #: Own-file tests as the checker rewrote them, and those it found errors in, by (file, line).
        self.rewritten: dict[tuple[str, int], n.Test] = {}
        self.problems: dict[tuple[str, int], str] = {}

    def load(self, path: Path) -> Any:
        """The compiled ruleset of a file (cached), compiled without its test blocks.

        Test blocks are checked separately (`problems`) so that one broken
        test fails alone instead of making its whole file uncompilable.
        """
        from dsl.registry import Registry

        key = str(path)
        if key in self.errors:
            raise _Broken(self.errors[key])
        if key not in self.compiled:
            try:
                resolved = Registry().resolve_file(path)
                self.compiled[key] = self._compile(resolved, key)
            except RulesetError as exc:
                self.errors[key] = "the ruleset does not check:\n" + _indent(exc.render() or str(exc))
                raise _Broken(self.errors[key]) from None
            except NotFoundError as exc:
                self.errors[key] = f"the ruleset cannot be loaded: {exc}"
                raise _Broken(self.errors[key]) from None
        return self.compiled[key]

    def _compile(self, resolved: Any, key: str) -> Any:
        from dataclasses import replace

        from dsl.api import compile_checked
        from dsl.checker import check
        from dsl.errors import render

        full = resolved.ruleset
        bare = replace(full, items=tuple(i for i in full.items if not isinstance(i, n.Test)))
        compiled = compile_checked(bare, source=resolved.text, path=key, sources=resolved.sources)
        checked = check(full, source=resolved.text, tests=resolved.tests, sources=resolved.sources)
        for test in checked.tests:
            if test.span.file != key:
                continue
            self.rewritten[(key, test.span.line)] = test
            errors = [
                d
                for d in checked.errors
                if d.span.file == key and test.span.line <= d.span.line <= test.span.end_line
            ]
            if errors:
                text = "\n".join(render(d, resolved.text) for d in errors)
                self.problems[(key, test.span.line)] = "the test does not check:\n" + _indent(text)
        return compiled

    def target(self, test: n.Test, own: Path | None) -> Path:
        if test.target is None:
            if own is None:
                raise _Broken('this file declares no ruleset; write `for NAME version "VERSION"`')
            return own
        name, version = test.target
        found = self.index.get((name, version))
        if found is not None:
            return found
        from dsl.registry import Registry

        candidate = Registry().path_of(name, version)
        if candidate.is_file():
            return candidate
        raise _Broken(f'no ruleset {name} version "{version}" among the files tested or in the registry')


class _Broken(Exception):
    """A test cannot run (its ruleset is missing or does not check)."""


def run_tests(path: str | Path) -> TestReport:
    """Run every test block in the ``.rules`` files under ``path``."""
    files = discover(path)
    runner = _Runner()
    parsed: list[tuple[Path, n.SourceFile, str]] = []
    notes: list[str] = []
    outcomes: list[TestOutcome] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            outcomes.append(TestOutcome(str(f), 1, "(file)", ((1, f"cannot read the file: {exc}"),)))
            continue
        try:
            sf = parse(text, str(f))
        except RulesetError as exc:
            outcomes.append(
                TestOutcome(str(f), 1, "(file)", ((1, "does not parse:\n" + _indent(exc.render())),))
            )
            continue
        runner.sources[str(f)] = sf.source
        if sf.ruleset is not None:
            runner.index.setdefault((sf.ruleset.name, sf.ruleset.version), f)
        parsed.append((f, sf, sf.source))
    for f, sf, source in parsed:
        own = f if sf.ruleset is not None else None
        tests = (sf.ruleset.tests if sf.ruleset is not None else []) + list(sf.tests)
        for test in tests:
            outcomes.append(_run_one(runner, test, f, own, source))
    if not outcomes:
        notes.append(f"no tests found under {path}")
    outcomes.sort(key=lambda o: (o.path, o.line))
    return TestReport(tuple(outcomes), len(files), tuple(notes))


def _run_one(runner: _Runner, test: n.Test, path: Path, own: Path | None, source: str) -> TestOutcome:
    line = test.span.line
    try:
        target = runner.target(test, own)
        compiled = runner.load(target)
    except _Broken as exc:
        return TestOutcome(str(path), line, test.label, ((line, str(exc)),))
    problem = runner.problems.get((str(path), line))
    if problem is not None:
        return TestOutcome(str(path), line, test.label, ((line, problem),))
    # The checker rewrote the tests of the ruleset's own file (bare enum values resolved).
    test = runner.rewritten.get((str(path), line), test)
    return run_test(compiled, test, source, str(path))


def run_test(compiled: Any, test: n.Test, source: str, path: str) -> TestOutcome:
    """Run one test block against a compiled ruleset (`dsl.api.CompiledRuleset`)."""
    line = test.span.line
    try:
        raw = {g.name: literal_value(g.value) for g in test.given}
    except ValueError as exc:
        return TestOutcome(path, line, test.label, ((line, f"given: {exc}"),))
    try:
        result = compiled.score(raw, unit=None)
    except InputError as exc:
        problems = "; ".join(f"{v.field}: {v.message}" for v in exc.violations)
        return TestOutcome(
            path, line, test.label, ((line, f"the given values are not a valid submission: {problems}"),)
        )
    except EvaluationError as exc:
        return TestOutcome(path, line, test.label, ((line, f"scoring failed: {exc}"),))
    scope: dict[str, Any] = dict(result.values)
    for name, t in result.titles.items():
        scope[name] = {"eligible": True, "not_eligible": False}.get(t.status)
    env = MapEnv(scope, enum_values=compiled.plan.enum_values, rounding_mode=compiled.plan.mode)
    failures: list[tuple[int, str]] = []
    for ex in test.expects:
        text = rt.source_text(source, ex.span) or "expect …"
        names = rt.referenced_names(ex.expr, compiled.plan.list_fields)
        undecided = [x for x in names if x in result.titles and scope[x] is None]
        if undecided:
            failures.append(
                (ex.span.line, f"{text} — title {', '.join(undecided)} is undecided for a unit alone")
            )
            continue
        try:
            ok = evaluate(ex.expr, env)
        except EvaluationError as exc:
            failures.append((ex.span.line, f"{text} — {exc.message}"))
            continue
        if ok is not True:
            shown = ", ".join(f"{x} is {_show(compiled, x, scope[x])}" for x in names if x in scope)
            failures.append((ex.span.line, f"{text}" + (f" — {shown}" if shown else " — false")))
    return TestOutcome(path, line, test.label, tuple(failures))


def _show(compiled: Any, name: str, value: Any) -> str:
    kind = compiled.plan.kinds.get(name)
    if isinstance(value, Decimal) and kind in _POINT_KINDS:
        return fmt_decimal(value, compiled.places)
    if value is None:
        return "undecided"
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = value_to_json(value)
    return str(shown)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def summary(report: TestReport) -> Mapping[str, int]:
    return {"passed": report.passed, "failed": report.failed, "files": report.files}
