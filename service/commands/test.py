"""``thidua test [PATH]``: run the ``test`` blocks of every ruleset file under PATH.

This module owns the command's arguments and printing; running tests is
`dsl.testing`'s job. Each failure prints as
``path:line: FAIL "label": expect … — name is value``; the last line is
exactly ``N passed, M failed``. Exit status 1 on any failure, 2 when PATH
does not exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from service.commands._common import EXIT_OK, EXIT_USAGE

#: Some test (or the coverage minimum) failed.
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    """Add the ``test`` subcommand."""
    p = subparsers.add_parser(
        "test",
        help="run the test blocks written in ruleset files",
        description="Run every `test` block in the .rules files under PATH (default: rulesets/). "
        "Tests without `for` apply to their own file's ruleset.",
    )
    p.add_argument("path", nargs="?", default="rulesets", metavar="PATH", help="a .rules file or a folder")
    p.add_argument("-v", "--verbose", action="store_true", help="also list the tests that passed")
    # --coverage and --coverage-min belong to dsl.coverage (issue 9, insight); kept apart below.
    p.add_argument(
        "--coverage",
        action="store_true",
        help="also report which criteria, table rows, if/when/unless branches and requires "
        "the tests exercised both ways",
    )
    p.add_argument(
        "--coverage-min",
        type=float,
        default=None,
        metavar="PCT",
        help="with --coverage: exit 1 when the outcomes covered fall below PCT percent",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.testing import run_tests

    if not Path(args.path).exists():
        print(f"thidua: {args.path}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    report = run_tests(args.path)
    if args.verbose:
        for o in report.outcomes:
            if o.passed:
                print(f'{o.path}:{o.line}: ok "{o.label}"')
    for line in report.lines():
        print(line)
    status = EXIT_FAILED if report.failed else EXIT_OK
    if args.coverage or args.coverage_min is not None:
        status = max(status, _coverage(args))
    return status


def _coverage(args: argparse.Namespace) -> int:
    """``--coverage``: per ruleset, the decisions the tests left one-sided (dsl.coverage)."""
    from decimal import Decimal

    from dsl.coverage import measure, percent_of, totals

    reports = measure(args.path)
    for r in reports:
        print()
        for line in r.lines(full=args.verbose):
            print(line)
    covered, total = totals(reports)
    overall = percent_of(covered, total)
    print(f"coverage: {covered}/{total} outcomes ({overall}%)")
    if args.coverage_min is not None and overall < Decimal(str(args.coverage_min)):
        print(f"coverage {overall}% is below the minimum {args.coverage_min}%", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
