"""``thidua check FILE… [--format text|json]``: parse, resolve and type-check rulesets.

A FILE may be a folder (every ``.rules`` file under it is checked) or a
registry reference ``NAME@VERSION`` (also ``NAME`` / ``NAME@latest``).

This module owns the command's arguments and its two outputs. Text: every
diagnostic rendered as SPEC §1.10 shows (header, source line, caret) on
stdout, then ``N errors, M warnings in K files`` on stderr. JSON (stdout):
``{"files": [{"path": …, "diagnostics": [Diagnostic.to_dict()…]}],
"errors": N, "warnings": M}``.

A file that ``extends`` another is resolved first (`dsl.registry`: the parent
is looked for beside the file, then in the registry folder); diagnostics about
inherited declarations name the parent's file and show its line. Test blocks
(inside the ruleset and after it) are checked too.

Exit status: 0 no errors (warnings allowed); 1 any error; 2 a file that
cannot be read (the others are still checked and reported).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsl import nodes as n
from dsl.checker import check
from dsl.errors import ERROR, Diagnostic, NotFoundError, RulesetError, render, source_lines
from dsl.parser import normalize, parse
from service.commands._common import EXIT_ERRORS, EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    p = subparsers.add_parser(
        "check",
        help="parse, resolve and type-check ruleset files",
        description="Report every syntax error, unknown name, type error, cycle and warning "
        "of each ruleset file (and of its test blocks).",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="ruleset files (.rules), folders of them, or NAME@VERSION from the registry",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument(
        "--rulesets-dir",
        default=None,
        help="registry folder where `extends` parents are looked up (default: ./rulesets)",
    )
    p.set_defaults(func=run)


@dataclass
class FileReport:
    """The diagnostics of one file and the texts needed to render them."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        return "\n".join(render(d, self.sources.get(d.span.file)) for d in self.diagnostics)


def check_file(path: str, text: str, rulesets_dir: str | None = None) -> FileReport:
    """Every diagnostic of one ruleset file (syntax, inheritance, checking)."""
    text = normalize(text)
    report = FileReport(path, sources={path: text})
    try:
        source_file = parse(text, path)
    except RulesetError as exc:
        report.diagnostics = list(exc.diagnostics)
        return report
    ruleset = source_file.ruleset
    if ruleset is None:
        report.diagnostics = sorted(
            _foreign_tests(path, source_file.tests, None, report, rulesets_dir), key=Diagnostic.sort_key
        )
        if not source_file.tests:
            report.diagnostics.append(
                Diagnostic(
                    ERROR, "the file declares no ruleset and no test", n.Span(1, 1, 1, 2, path), "no-ruleset"
                )
            )
        return report
    own = (ruleset.name, ruleset.version)
    foreign = _foreign_tests(path, [*ruleset.of_kind(n.Test), *source_file.tests], own, report, rulesets_dir)
    if ruleset.parent is not None:
        resolved = _resolve(path, ruleset, report, rulesets_dir)
        if resolved is None:
            report.diagnostics = sorted([*report.diagnostics, *foreign], key=Diagnostic.sort_key)
            return report
        ruleset = resolved
    checked = check(ruleset, source=text, tests=source_file.tests, sources=report.sources)
    lint = _monotonicity(checked)
    report.diagnostics = sorted([*checked.diagnostics, *foreign, *lint], key=Diagnostic.sort_key)
    return report


def _monotonicity(checked: Any) -> list[Diagnostic]:
    """Warnings of `dsl.lint` (inputs marked `more/less is better`), once the ruleset checks clean."""
    from dsl.lint import lint

    return lint(checked) if checked.ok else []


def _foreign_tests(
    path: str,
    tests: Sequence[n.Test],
    own: tuple[str, str] | None,
    report: FileReport,
    rulesets_dir: str | None,
) -> list[Diagnostic]:
    """Check the tests written ``for`` another ruleset against it, found in the registry.

    Only the diagnostics about this file are kept: the other ruleset's own
    problems are reported when that file is checked. A test without ``for``
    outside any ruleset has nothing to run against.
    """
    from dsl.registry import Registry

    diagnostics: list[Diagnostic] = []
    by_target: dict[tuple[str, str], list[n.Test]] = {}
    for test in tests:
        if test.target is None:
            if own is None:
                diagnostics.append(
                    Diagnostic(
                        ERROR,
                        f'test "{test.label}" is outside a ruleset and names none',
                        _first_line(test.span, report.sources[path]),
                        "test",
                        'write `for NAME version "VERSION"` after the test\'s label',
                    )
                )
        elif test.target != own:
            by_target.setdefault(test.target, []).append(test)
    registry = Registry(rulesets_dir)
    for (name, version), group in by_target.items():
        try:
            resolved = registry.resolve(name, version)
        except (NotFoundError, RulesetError) as exc:
            why = exc.message if isinstance(exc, NotFoundError) else "it does not parse or resolve"
            for test in group:
                diagnostics.append(
                    Diagnostic(
                        ERROR,
                        f'cannot check test "{test.label}" against {name} {version}: {why}',
                        _first_line(test.span, report.sources[path]),
                        "test",
                    )
                )
            continue
        checked = check(resolved.ruleset, tests=group, sources=resolved.sources)
        diagnostics += [d for d in checked.diagnostics if d.span.file == path]
    return diagnostics


def _first_line(span: n.Span, text: str) -> n.Span:
    if span.end_line == span.line:
        return span
    lines = source_lines(text)
    end = len(lines[span.line - 1]) + 1 if 0 < span.line <= len(lines) else span.column + 1
    return n.Span(span.line, span.column, span.line, end, span.file)


def _resolve(path: str, ruleset: n.Ruleset, report: FileReport, rulesets_dir: str | None) -> n.Ruleset | None:
    from dsl.registry import Registry

    assert ruleset.parent is not None
    try:
        resolved = Registry(rulesets_dir).resolve_file(path)
    except NotFoundError as exc:
        span = ruleset.parent.span
        head = n.Span(
            span.line,
            span.column,
            span.line,
            span.end_column if span.end_line == span.line else span.column + 7,
            path,
        )
        report.diagnostics = [Diagnostic(ERROR, f"cannot resolve `extends`: {exc.message}", head, "extends")]
        return None
    except RulesetError as exc:
        report.diagnostics = list(exc.diagnostics)
        if exc.source is not None and exc.diagnostics:
            report.sources.setdefault(exc.diagnostics[0].span.file, exc.source)
        return None
    for file, text in resolved.sources.items():
        report.sources.setdefault(file, text)
    return resolved.ruleset


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    reports: list[FileReport] = []
    unreadable = False
    try:
        paths = expand(args.files, args.rulesets_dir)
    except NotFoundError as exc:
        print(f"thidua check: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            reports.append(
                FileReport(
                    path,
                    [
                        Diagnostic(
                            ERROR,
                            f"the file is not UTF-8 text ({exc.reason})",
                            n.Span(1, 1, 1, 2, path),
                            "encoding",
                        )
                    ],
                )
            )
            continue
        except OSError as exc:
            print(f"thidua check: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            unreadable = True
            continue
        reports.append(check_file(path, text, args.rulesets_dir))
    errors = sum(1 for r in reports for d in r.diagnostics if d.is_error)
    warnings = sum(1 for r in reports for d in r.diagnostics if not d.is_error)
    if args.format == "json":
        _print_json(reports, errors, warnings)
    else:
        for report in reports:
            if report.diagnostics:
                print(report.render())
        print(summary(errors, warnings, len(reports)), file=sys.stderr)
    if unreadable:
        return EXIT_USAGE
    return EXIT_ERRORS if errors else EXIT_OK


def expand(paths: Sequence[str], rulesets_dir: str | None = None) -> list[str]:
    """The files to check: each FILE as given, each folder replaced by its ``.rules``
    files (sorted), each ``NAME@VERSION`` (or ``NAME``, ``NAME@latest``) by its registry file.
    Raises `NotFoundError` for a reference the registry does not have."""
    from dsl.registry import Registry, looks_like_path, parse_ref

    out: list[str] = []
    for path in paths:
        folder = Path(path)
        ref = None if folder.exists() or looks_like_path(path) else parse_ref(path)
        if folder.is_dir():
            out.extend(str(p) for p in sorted(folder.rglob("*.rules")))
        elif ref is not None:
            registry = Registry(rulesets_dir)
            version = registry.pick_version(ref)
            file = registry.path_of(ref.name, version)
            if not file.is_file():
                known = ", ".join(registry.versions(ref.name)) or "none"
                raise NotFoundError(f"no ruleset {ref.name}@{version} in {registry.root} (versions: {known})")
            out.append(str(file))
        else:
            out.append(path)
    return out


def summary(errors: int, warnings: int, files: int) -> str:
    """``2 errors, 1 warning in 3 files``."""
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')} in {_count(files, 'file')}"


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _print_json(reports: Sequence[FileReport], errors: int, warnings: int) -> None:
    doc = {
        "files": [{"path": r.path, "diagnostics": [d.to_dict() for d in r.diagnostics]} for r in reports],
        "errors": errors,
        "warnings": warnings,
    }
    print(json.dumps(doc, ensure_ascii=False, indent=2))
