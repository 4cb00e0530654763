"""``thidua diff OLD NEW [CASE…]``: what changes between two ruleset versions, on real cases.

This module owns the command: both rulesets (files or registry references)
are compiled; their rule changes are listed (`dsl.diff`); every CASE (a bloc
``.json``, a ``.jsonl`` of cases, or a folder of them) is decided under both
(`dsl.compare`) in worker processes, which also render each case for the
report (`dsl.diff_report`: a table, markdown for a review, or JSON) and count
it, so that this process only reads cases and writes the report.

Exit status: 0 done (no ``--fail-on`` condition met); 1 a ``--fail-on``
condition is met (``any`` change, a ``level`` change, a ``title`` status
change); 2 a ruleset or case file could not be read, resolved or checked, or
usage errors. Errors inside cases (a unit a version rejects, a case that is
not a valid bloc) are reported in the diff and do not stop it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from dsl.errors import InputError, NotFoundError, RulesetError
from service.commands._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_registry_options,
    load_ruleset,
    positive_int,
    report_load_error,
)

#: The comparison ran and found a change that ``--fail-on`` names.
EXIT_CHANGED = 1


def register(subparsers: Any) -> None:
    """Add the ``diff`` subcommand."""
    p = subparsers.add_parser(
        "diff",
        help="compare two ruleset versions: rule changes and their effect on cases",
        description="List what changed between two ruleset versions and run both on every CASE "
        "(a bloc .json, a .jsonl of cases, or a folder of them): per unit the change of score, "
        "level, rank and titles, the criteria that moved, the rotation, and a summary.",
    )
    p.add_argument("old", metavar="OLD", help="the old ruleset: a .rules file, NAME@VERSION or NAME@latest")
    p.add_argument("new", metavar="NEW", help="the new ruleset: a .rules file, NAME@VERSION or NAME@latest")
    p.add_argument("cases", metavar="CASE", nargs="*", help="bloc case .json, .jsonl of cases, or a folder")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table", help="output format")
    p.add_argument(
        "--fail-on",
        choices=("any", "level", "title"),
        default=None,
        help="exit 1 when any change / a level change / a title status change is found",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes for the cases (default: the CPUs available)",
    )
    p.add_argument(
        "--max-units",
        type=positive_int,
        default=200,
        metavar="N",
        help="changed units shown in detail by table and markdown (default 200; JSON lists all)",
    )
    add_registry_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.compare import Comparer, compare_batches, default_jobs, iter_cases
    from dsl.diff import structural_diff
    from dsl.diff_report import ReportWriter

    compiled = []
    for arg in (args.old, args.new):
        try:
            compiled.append(load_ruleset(arg, args))
        except (RulesetError, NotFoundError, InputError) as exc:
            report_load_error(exc, arg)
            return EXIT_USAGE
    missing = [c for c in args.cases if not Path(c).exists()]
    if missing:
        print(f"thidua: no such case file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    old, new = compiled
    writer = ReportWriter(
        sys.stdout,
        args.format,
        old,
        new,
        structural_diff(old.ruleset, new.ruleset),
        max_units=args.max_units,
    )
    writer.start()
    progress = Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        for batch in compare_batches(
            Comparer(old, new), iter_cases(args.cases), writer.encode, jobs=args.jobs or default_jobs()
        ):
            writer.add_batch(batch)
            if progress is not None:
                progress.tick(batch.summary.units, cases=len(batch.items))
    except (OSError, UnicodeDecodeError) as exc:
        if progress is not None:
            progress.done()
        print(f"\nthidua: cannot read a case: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if progress is not None:
        progress.done()
    summary = writer.finish()
    return EXIT_CHANGED if summary.fails(args.fail_on) else EXIT_OK


class Progress:
    """A one-line counter on a terminal's stderr, redrawn at most five times a second."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.cases = 0
        self.units = 0
        self.start = time.monotonic()
        self.last = 0.0

    def tick(self, units: int, *, cases: int = 1) -> None:
        """Count ``cases`` more cases holding ``units`` units; redraw if due."""
        self.cases += cases
        self.units += units
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            rate = self.units / max(now - self.start, 1e-9)
            self.out.write(f"\r  {self.cases} cases, {self.units} units ({rate:,.0f} units/s)")
            self.out.flush()

    def done(self) -> None:
        self.out.write("\r\033[K")
        self.out.flush()
