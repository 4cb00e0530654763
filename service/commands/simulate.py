"""``thidua simulate RULESET CASE --years N``: roll the rotation forward and check invariants.

This module owns the command's arguments and output; the simulation is
`dsl.simulate`'s. ``--invariant`` may be given several times
(``no-repeat-leader:N``, ``no-repeat-deputy:N``,
``every-member-leads-per-cycle``, ``deputy-becomes-leader``); ``--seed S``
generates each later period's results from a seeded shuffle of the case's
results instead of repeating them.

Exit status: 0 every invariant held; 1 one broke (the first period where it
did is printed), the rotation ran out of candidates, or the ruleset/case is
bad; 2 usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from service.commands._common import EXIT_OK, EXIT_USAGE, add_registry_options, load_ruleset

#: The simulation ran and an invariant broke (or the inputs were wrong).
EXIT_BROKEN = 1


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="roll the leader/deputy rotation forward N periods and check invariants",
        description="Decide the case's bloc, then apply the ruleset's rotation period after period "
        "(with the case's results repeated, or generated from --seed) and report the first period "
        "where a declared invariant breaks.",
    )
    p.add_argument("ruleset", metavar="RULESET", help="a .rules file, NAME@VERSION, NAME@latest or NAME")
    p.add_argument("case", metavar="CASE", help="the bloc's CASE .json (members, current holders, history)")
    p.add_argument("--years", type=int, required=True, help="how many periods to roll forward")
    p.add_argument(
        "--invariant",
        action="append",
        default=[],
        metavar="SPEC",
        help="no-repeat-leader:N | no-repeat-deputy:N | every-member-leads-per-cycle | "
        "deputy-becomes-leader (repeatable)",
    )
    p.add_argument(
        "--then",
        nargs="+",
        default=[],
        metavar="CASE",
        help="later periods' cases, in order: their submissions give those periods' results",
    )
    p.add_argument("--seed", type=int, default=None, help="generate later periods' results from this seed")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    add_registry_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.case import check_case, read_json
    from dsl.simulate import MAX_YEARS, parse_invariant, simulate
    from service.commands.evaluate import table

    if not 1 <= args.years <= MAX_YEARS:
        print(f"thidua simulate: --years must be from 1 to {MAX_YEARS}, got {args.years}", file=sys.stderr)
        return EXIT_USAGE
    try:
        invariants = [parse_invariant(x) for x in args.invariant]
    except InputError as exc:
        print(f"thidua simulate: {exc.violations[0].message}", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = Path(args.case).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"thidua simulate: cannot read {args.case}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        case, violations = check_case(read_json(text, args.case))
        if violations:
            raise InputError(violations, what="case")
        given = []
        for path in args.then:
            later, problems = check_case(read_json(Path(path).read_text(encoding="utf-8"), path))
            if problems:
                raise InputError(problems, what=f"case {path}")
            given.append(later)
        compiled = load_ruleset(args.ruleset, args)
        result = simulate(compiled, case, args.years, invariants, seed=args.seed, given=given)
    except RulesetError as exc:
        print(exc.render() or str(exc), file=sys.stderr)
        return EXIT_BROKEN
    except InputError as exc:
        print(f"{args.case}: invalid {exc.what}:", file=sys.stderr)
        for v in exc.violations:
            print(f"  {v.field}: {v.message}", file=sys.stderr)
        return EXIT_BROKEN
    except (EvaluationError, NotFoundError) as exc:
        print(f"thidua simulate: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    if args.format == "json":
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK if result.holds else EXIT_BROKEN
    out = sys.stdout
    out.write(f"Rotation over {args.years} period(s), results {result.results}\n\n")
    rows = [[p.period, p.leader, p.deputy, p.leader_by, p.deputy_by] for p in (result.start, *result.periods)]
    out.write("\n".join(table(["period", "leader", "deputy", "leader by", "deputy by"], rows, set(), False)))
    out.write("\n")
    if result.stopped:
        out.write(f"\nstopped: {result.stopped}\n")
    if result.checks:
        out.write("\n")
    for c in result.checks:
        if c.broken_at is None:
            out.write(f"✓ {c.invariant}: holds\n")
        else:
            out.write(f"✗ {c.invariant}: breaks in {c.broken_at} — {c.why}\n")
    return EXIT_OK if result.holds else EXIT_BROKEN
