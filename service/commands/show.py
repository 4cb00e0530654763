"""``thidua show RULESET [--resolved] [--format text|json]``: a ruleset as written, or resolved flat.

This module owns the command (and ``thidua show --list``, every version in
the registry with its identity). RULESET is a file or a registry reference
(``NAME@VERSION``, ``NAME@latest``, ``NAME`` with ``--as-of``). Without
``--resolved`` the file is printed as written; with it, the ``extends`` chain
is resolved and the flat ruleset printed in canonical layout, headed by
comment lines naming the chain and the SHA-256 identity (the text parses as a
ruleset file of its own, and hashes to that identity). ``--format json``
prints the identity, the chain, the effective period and the text.

Showing does not type-check (``thidua check`` does): a ruleset with checker
errors can still be looked at. Exit status: 0 shown; 1 not found or does not
parse/resolve; 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dsl import nodes as n
from dsl.errors import InputError, NotFoundError, RulesetError
from service.commands._common import (
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_USAGE,
    add_registry_options,
    report_load_error,
)


def register(subparsers: Any) -> None:
    """Add the ``show`` subcommand."""
    p = subparsers.add_parser(
        "show",
        help="print a ruleset as written or resolved flat (--resolved), with its identity",
        description="Print a ruleset from a file or the registry. With --resolved, the extends "
        "chain is resolved into one flat ruleset in canonical layout, headed by its SHA-256.",
    )
    p.add_argument(
        "ruleset", metavar="RULESET", nargs="?", help="a .rules file, NAME@VERSION, NAME@latest or NAME"
    )
    p.add_argument(
        "--list", action="store_true", help="list every version in the registry (identity, period, parent)"
    )
    p.add_argument("--resolved", action="store_true", help="resolve `extends` and print the flat ruleset")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_registry_options(p)
    p.set_defaults(func=run)


def resolved_text(resolved: Any) -> str:
    """The flat ruleset in canonical layout (with the file's own tests), no comments."""
    from dsl.format import format_source

    text: str = format_source(resolved.source)
    return text


def list_registry(args: argparse.Namespace) -> int:
    """``--list``: one line (or JSON object) per version; broken files listed with their error."""
    from dsl.registry import Registry

    registry = Registry(args.rulesets)
    entries = registry.list()
    if args.format == "json":
        out = [
            {
                "name": e.name,
                "version": e.version,
                "path": e.path,
                "sha256": e.sha256,
                "effective": {"from": e.effective[0].isoformat(), "to": e.effective[1].isoformat()}
                if e.effective
                else None,
                "extends": e.parent,
                "description": e.description,
                "error": e.error,
            }
            for e in entries
        ]
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not entries:
        print(f"no rulesets in {registry.root}", file=sys.stderr)
        return EXIT_OK
    rows = [("ruleset", "effective", "extends", "sha256")]
    for e in entries:
        period = f"{e.effective[0]} to {e.effective[1]}" if e.effective else "–"
        rows.append(
            (f"{e.name}@{e.version}", period, e.parent or "–", (e.sha256 or "")[:12] or f"error: {e.error}")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] + "\n"
        )
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.identity import ruleset_sha256
    from dsl.registry import load_resolved_arg

    if args.list:
        return list_registry(args)
    if args.ruleset is None:
        print("thidua show: give a RULESET, or --list", file=sys.stderr)
        return EXIT_USAGE

    try:
        resolved = load_resolved_arg(args.ruleset, rulesets_dir=args.rulesets, as_of=args.as_of)
    except (RulesetError, NotFoundError, InputError) as exc:
        report_load_error(exc, args.ruleset)
        return EXIT_ERRORS
    rs: n.Ruleset = resolved.ruleset
    sha = ruleset_sha256(rs)
    chain = " ← ".join(f"{link.name} {link.version}" for link in resolved.chain)
    text = resolved_text(resolved) if args.resolved else resolved.text
    if args.format == "json":
        eff = rs.first(n.Effective)
        out = {
            "name": rs.name,
            "version": rs.version,
            "sha256": sha,
            "path": resolved.path,
            "chain": [{"name": x.name, "version": x.version, "path": x.path} for x in resolved.chain],
            "effective": {"from": eff.start.isoformat(), "to": eff.end.isoformat()}
            if isinstance(eff, n.Effective)
            else None,
            "resolved": bool(args.resolved),
            "text": text,
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if args.resolved:
        sys.stdout.write(f"# {rs.name} {rs.version}, resolved from {chain}\n# sha256 {sha}\n")
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return EXIT_OK
