"""``thidua whatif RULESET FILE.json --title T | --level L``: what it would take for a unit.

This module owns the command's arguments and its two outputs; the answer is
`dsl.whatif`'s. FILE is a CASE (then ``--unit`` picks the unit and the
title means being *awarded* within the bloc: rank, quota and ties count;
``--alone`` judges the unit by itself instead), a submission
``{"unit": …, "inputs": {…}}`` or a bare inputs object (eligibility alone).

Text output lists each condition of the target (✓/✗ with its values), and
for each failed one the smallest change per input that makes it hold —
``advanced_members 13 → 14 (+1) exact`` — then what reaches the whole target:
single changes, or a verified combination. ``--all`` also lists the inputs
that cannot help and why (their declared range, or no effect). JSON is
`dsl.whatif.WhatIf.to_json`.

Exit status: 0 answered; 1 a ruleset, input or evaluation error; 2 usage
errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from service.commands._common import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, add_registry_options, load_ruleset


def register(subparsers: Any) -> None:
    """Add the ``whatif`` subcommand."""
    p = subparsers.add_parser(
        "whatif",
        help="what it would take for a unit to reach a title or a level",
        description="For one unit and a title (or a level), the smallest change to each input that "
        "would make each failed requirement hold, and what would reach the whole target.",
    )
    p.add_argument("ruleset", metavar="RULESET", help="a .rules file, NAME@VERSION, NAME@latest or NAME")
    p.add_argument("file", metavar="FILE", help="a CASE .json (with --unit), a submission or bare inputs")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--title", help="the title the unit wants")
    target.add_argument("--level", help="the classification level the unit wants (or a better one)")
    p.add_argument("--unit", help="the unit (required with a CASE)")
    p.add_argument("--alone", action="store_true", help="with a CASE: judge the unit alone (eligibility)")
    p.add_argument("--inputs", help="only change these inputs (comma-separated)")
    p.add_argument("--all", action="store_true", help="also list the inputs that cannot help, and why")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_registry_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.case import parse_case, read_json
    from dsl.whatif import resolve_target, what_it_takes

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"thidua whatif: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        data = read_json(text, args.file, "input file")
        compiled = load_ruleset(args.ruleset, args)
        target = resolve_target(compiled, title=args.title, level=args.level)
        case = None
        unit = args.unit
        if isinstance(data, Mapping) and "submissions" in data:
            if unit is None:
                print("thidua whatif: a CASE needs --unit to say whose question it is", file=sys.stderr)
                return EXIT_USAGE
            case = parse_case(data)
            sub = case.submission(unit)
            if sub is None:
                print(f"thidua whatif: unit '{unit}' has no submission in {args.file}", file=sys.stderr)
                return EXIT_USAGE
            inputs: Any = sub.inputs
            if args.alone:
                case = None
        elif isinstance(data, Mapping) and isinstance(data.get("inputs"), Mapping):
            inputs = data["inputs"]
            unit = unit or (data.get("unit") if isinstance(data.get("unit"), str) else None)
        else:
            inputs = data
        only = [x.strip() for x in args.inputs.split(",") if x.strip()] if args.inputs else None
        if case is not None and sys.stderr.isatty():
            # A bloc question decides the bloc again per candidate: a few seconds, say so.
            print(
                f"searching: deciding the bloc of {len(case.members)} units per candidate…", file=sys.stderr
            )
        answer = what_it_takes(compiled, inputs, target, unit=unit, case=case, only=only)
    except RulesetError as exc:
        print(exc.render() or str(exc), file=sys.stderr)
        return EXIT_ERRORS
    except InputError as exc:
        print(f"{args.file}: invalid {exc.what}:", file=sys.stderr)
        for v in exc.violations:
            print(f"  {v.field}: {v.message}", file=sys.stderr)
        return EXIT_ERRORS
    except EvaluationError as exc:
        print(f"{args.file}: evaluation error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    except NotFoundError as exc:
        print(f"thidua whatif: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if args.format == "json":
        json.dump(answer.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        write_text(answer, sys.stdout, show_all=args.all)
    return EXIT_OK


def write_text(answer: Any, out: TextIO, *, show_all: bool = False) -> None:
    """The people's view of a `dsl.whatif.WhatIf`."""
    t = answer.target
    who = answer.unit or "this unit"
    where = "within its bloc" if answer.in_bloc else "alone"
    out.write(f'What would {who} need for {t.kind} {t.name} "{t.label}"? ')
    out.write(f"({answer.ruleset.name} {answer.ruleset.version}, {where})\n")
    out.write(f"Now: {answer.status}{' — reached' if answer.reached else ''}\n\n")
    for c in answer.conditions:
        mark = {True: "✓", False: "✗", None: "?"}[c.passed]
        reason = f" — {c.reason}" if c.reason else ""
        now = f"   [{c.now}]" if c.now else ""
        out.write(f"{mark} {c.text}{reason}{now}\n")
        if c.note:
            out.write(f"    {c.note}\n")
        if c.passed is True:
            continue
        if c.gap:
            out.write(f"    {c.gap}\n")
        for ch in c.changes:
            out.write(f"    {change_line(ch)}\n")
        if not c.changes:
            out.write("    no single input change makes it hold\n")
        if c.limits and show_all:
            for lim in c.limits:
                out.write(f"    cannot: {lim.input} — {lim.reason}\n")
        elif c.limits:
            out.write(f"    ({len(c.limits)} other inputs cannot; --all lists why)\n")
    if answer.reached:
        return
    out.write(f"\nThe whole {t.kind}:\n")
    if answer.single:
        for ch in answer.single:
            out.write(f"  {change_line(ch)}\n")
    elif answer.combined:
        verdict = "reach it (verified)" if answer.combined_reaches else "do not reach it"
        out.write(f"  no single change reaches it; together, these {verdict}:\n")
        for ch in answer.combined:
            out.write(f"    {change_line(ch)}\n")
    else:
        out.write("  nothing found within the inputs' ranges\n")
    for note in answer.notes:
        out.write(f"note: {note}\n")


def change_line(ch: Any) -> str:
    """``advanced_members 13 → 14 (+1)  exact  → 14 >= 14.00``."""
    from dsl.search import show_value

    if ch.note:
        head = f"{ch.input}: {ch.note}"
    else:
        delta = ch.delta
        step = ""
        if delta is not None:
            sign = "+" if delta > 0 else ""
            unit = " days" if hasattr(ch.before, "isoformat") else ""
            step = f" ({sign}{show_value(delta)}{unit})"
        head = f"{ch.input} {show_value(ch.before)} → {show_value(ch.after)}{step}"
    line = f"{head}  [{ch.method}]"
    if ch.shows:
        line += f"  → {ch.shows}"
    if ch.breaks:
        line += f"  (but breaks: {', '.join(ch.breaks)})"
    return line
