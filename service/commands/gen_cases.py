"""``thidua gen-cases RULESET --blocs N --units M [--seed S] [--out DIR|FILE.jsonl]``: synthetic cases.

This module owns the command around `dsl.gencases`: the cases are valid for
RULESET, deterministic in the seed, and written as they are made (flat
memory): to a ``.jsonl`` file (one case per line), to a folder (one
``case-NNNNNN.json`` per bloc), or to stdout as JSON lines when ``--out`` is
not given. Exit status: 0 written; 1 the ruleset cannot be compiled or its
inputs generated; 2 usage errors and unwritable destinations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dsl.errors import InputError, NotFoundError, RulesetError
from service.commands._common import (
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_USAGE,
    add_registry_options,
    load_ruleset,
    positive_int,
    report_load_error,
)

#: Most members one generated bloc may have (ten times the largest bloc docs/bloc.md measures).
MAX_UNITS = 1_000_000


def register(subparsers: Any) -> None:
    """Add the ``gen-cases`` subcommand."""
    p = subparsers.add_parser(
        "gen-cases",
        help="generate synthetic, valid bloc cases for regression corpora",
        description="Generate BLOCS synthetic bloc cases of UNITS members each, valid for RULESET and "
        "the same for the same seed; written to a .jsonl file, a folder, or stdout.",
    )
    p.add_argument("ruleset", metavar="RULESET", help="a .rules file, NAME@VERSION, NAME@latest or NAME")
    # --blocs/--units are required unless --boundaries is given (checked in run()).
    p.add_argument("--blocs", type=positive_int, metavar="N", help="number of cases (blocs)")
    p.add_argument("--units", type=positive_int, metavar="M", help="members per bloc")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR|FILE.jsonl", default=None, help="destination (default: stdout)")
    add_registry_options(p)
    # Issue 9 (insight): --boundaries [--from FILE] [--inputs A,B] — see service.commands._boundaries.
    from service.commands._boundaries import add_boundary_options

    add_boundary_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.gencases import GenerationError, dump_case, generate_cases

    if args.boundaries:
        from service.commands._boundaries import run_boundaries

        return run_boundaries(args)
    if args.blocs is None or args.units is None:
        print("thidua gen-cases: --blocs N and --units M are required (or --boundaries)", file=sys.stderr)
        return EXIT_USAGE
    if args.units > MAX_UNITS:
        # A bloc is built whole in memory: --units 100000000 took gigabytes before writing anything.
        print(
            f"thidua gen-cases: --units {args.units} is more than the {MAX_UNITS:,} a bloc may have",
            file=sys.stderr,
        )
        return EXIT_USAGE

    try:
        compiled = load_ruleset(args.ruleset, args)
    except (RulesetError, NotFoundError, InputError) as exc:
        report_load_error(exc, args.ruleset)
        return EXIT_ERRORS
    cases = generate_cases(compiled.ruleset, blocs=args.blocs, units=args.units, seed=args.seed)
    try:
        if args.out is None:
            for case in cases:
                sys.stdout.write(dump_case(case) + "\n")
        elif args.out.endswith(".jsonl"):
            with Path(args.out).open("w", encoding="utf-8") as fh:
                for case in cases:
                    fh.write(dump_case(case) + "\n")
        else:
            folder = Path(args.out)
            folder.mkdir(parents=True, exist_ok=True)
            for i, case in enumerate(cases, start=1):
                (folder / f"case-{i:06d}.json").write_text(dump_case(case) + "\n", encoding="utf-8")
    except GenerationError as exc:
        print(f"thidua: {compiled.name} {compiled.version}: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    except OSError as exc:
        print(f"thidua: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
