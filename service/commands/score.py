"""``thidua score RULESET SUBMISSION.json``: one unit's result (or a ``.jsonl`` stream of them).

This module owns the command's arguments and output. SUBMISSION is either
``{"unit": …, "inputs": {…}}`` or a bare inputs object. JSON output is one
element of SPEC §2 ``units`` (no ``rank``; titles as unit-level eligibility)
plus the ruleset's identity; the table is for people: criteria by group with
points and maxima, bonus, penalty, score, level and titles.

A ``.jsonl`` file is scored line by line, streaming one JSON result per line;
a bad line prints ``{"line": N, "error": {…}}`` and the run goes on.

Exit status: 0 scored; 1 a ruleset, submission or evaluation error (every
violation printed, never a traceback); 2 usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError, source_lines
from dsl.results import UnitResult, fmt_decimal, value_to_json

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

from service.commands._common import (
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_USAGE,
    add_registry_options,
    load_ruleset,
    report_input_error,
    report_load_error,
)
from service.commands.evaluate import table

#: Keys a wrapped submission may carry besides ``inputs``.
WRAPPER_KEYS = frozenset({"unit", "inputs", "stage", "period", "bloc", "ruleset"})


def register(subparsers: Any) -> None:
    """Add the ``score`` subcommand."""
    p = subparsers.add_parser(
        "score",
        help="score one unit's submission (or a .jsonl file of them)",
        description="Validate and score one unit's submission: criteria points, groups, bonus, "
        "penalty, score, level and title eligibility. A .jsonl file is scored line by line.",
    )
    p.add_argument("ruleset", metavar="RULESET", help="a .rules file, NAME@VERSION, NAME@latest or NAME")
    p.add_argument("submission", metavar="SUBMISSION", help="a .json submission or a .jsonl file of them")
    p.add_argument("--explain", action="store_true", help="show how each number came about")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output format")
    add_registry_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    try:
        text = Path(args.submission).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"thidua: cannot read {args.submission}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    try:
        compiled = load_ruleset(args.ruleset, args)
    except (RulesetError, NotFoundError, InputError) as exc:
        report_load_error(exc, args.ruleset)
        return EXIT_ERRORS
    if args.submission.endswith(".jsonl"):
        return score_lines(compiled, text, args.explain, sys.stdout)
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        print(f"thidua: {args.submission}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}", file=sys.stderr)
        return EXIT_ERRORS
    except (ValueError, RecursionError) as exc:
        print(f"thidua: {args.submission}: invalid JSON: {json_problem(exc)}", file=sys.stderr)
        return EXIT_ERRORS
    try:
        result = score_one(compiled, data, args.explain)
    except InputError as exc:
        report_input_error(exc, args.submission)
        return EXIT_ERRORS
    except EvaluationError as exc:
        print(f"thidua: {args.submission}: evaluation error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if args.format == "json":
        json.dump(result_json(result, args.explain), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(compiled, result, explain=args.explain, markdown=args.format == "markdown"))
    return EXIT_OK


def load_json(text: str) -> Any:
    """A submission's JSON with exact numbers; a key given twice is refused, not silently overwritten."""
    from dsl.case import unique_keys

    return json.loads(text, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=unique_keys)


def json_problem(exc: ValueError | RecursionError) -> str:
    """What is wrong with JSON that parsed no further than a duplicate key or a too deep nesting."""
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def split_submission(data: Any) -> tuple[str | None, Any]:
    """``(unit, inputs)`` from a wrapped ``{"unit", "inputs"}`` object or bare inputs."""
    if isinstance(data, Mapping) and isinstance(data.get("inputs"), Mapping) and set(data) <= WRAPPER_KEYS:
        unit = data.get("unit")
        if unit is not None and not isinstance(unit, str):
            from dsl.errors import FieldViolation

            raise InputError([FieldViolation("unit", "must be text")])
        return unit, data["inputs"]
    return None, data


def score_one(compiled: CompiledRuleset, data: Any, explain: bool) -> UnitResult:
    unit, inputs = split_submission(data)
    return compiled.score(inputs, unit=unit, explain=explain)


def result_json(result: UnitResult, explain: bool) -> dict[str, Any]:
    return {**result.to_json(explain=explain), "ruleset": result.ruleset.to_json()}


def error_json(exc: Exception) -> dict[str, Any]:
    """The ``error`` object of a failed ``.jsonl`` line."""
    if isinstance(exc, InputError):
        return {"kind": "input", "message": str(exc), "violations": [v.to_dict() for v in exc.violations]}
    if isinstance(exc, EvaluationError):
        return {
            "kind": "evaluation",
            "message": exc.message,
            "where": exc.where,
            "line": exc.span.line if exc.span is not None else None,
        }
    return {"kind": "json", "message": str(exc)}


def score_lines(compiled: CompiledRuleset, text: str, explain: bool, out: TextIO) -> int:
    """Score every non-blank line; one JSON object per line out; 1 if any line failed."""
    failed = False
    for number, line in enumerate(source_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = result_json(score_one(compiled, load_json(line), explain), explain)
        except json.JSONDecodeError as exc:
            record = {"line": number, "error": {"kind": "json", "message": f"invalid JSON: {exc.msg}"}}
            failed = True
        except (ValueError, RecursionError) as exc:
            record = {
                "line": number,
                "error": {"kind": "json", "message": f"invalid JSON: {json_problem(exc)}"},
            }
            failed = True
        except (InputError, EvaluationError) as exc:
            record = {"line": number, "error": error_json(exc)}
            failed = True
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return EXIT_ERRORS if failed else EXIT_OK


# ------------------------------------------------------------------ the table


def render(
    compiled: CompiledRuleset, result: UnitResult, *, explain: bool = False, markdown: bool = False
) -> str:
    """The people's view of one unit's result (an aligned text table, or GitHub markdown)."""
    p = result.places
    plan = compiled.plan
    ex = result.explanation
    crit = {c.name: c for c in ex.criteria} if ex is not None else {}
    lines = [
        ("## " if markdown else "")
        + f"{result.unit or 'unit'} — ruleset {result.ruleset.name} {result.ruleset.version} "
        f"(sha256 {result.ruleset.sha256[:12]})",
        "",
    ]
    header = ["criterion", "label", "points", "max"] + (["raw", "note"] if explain else [])
    rows: list[list[str]] = []
    sections: list[tuple[str, str, Any, Any]] = [
        (g.name, g.label, result.groups[g.name], g.max.value) for g in plan.groups
    ]
    if plan.bonus is not None:
        sections.append(("bonus", plan.bonus.label, result.bonus, plan.bonus.max.value))
    if plan.penalty is not None:
        mx = plan.penalty.max.value if plan.penalty.max is not None else None
        sections.append(("penalty", plan.penalty.label, result.penalty, mx))
    for name, label, value, mx in sections:
        row = [name, label, fmt_decimal(value, p), "" if mx is None else str(value_to_json(mx))]
        rows.append(row + ([_sum_note(ex, name, p), ""] if explain else []))
        for c, section in plan.criteria:
            if section != name:
                continue
            row = [
                "  " + c.name,
                "  " + c.label,
                fmt_decimal(result.values[c.name], p),
                "" if c.max is None else str(value_to_json(c.max.value)),
            ]
            if explain and c.name in crit:
                cr = crit[c.name]
                notes = []
                if cr.clamped:
                    notes.append("clamped")
                if cr.table_row is not None:
                    notes.append("else row" if cr.table_row == 0 else f"row {cr.table_row}")
                row += [str(value_to_json(cr.raw)), ", ".join(notes)]
            rows.append(row)
    lines += table(header, rows, {2, 3}, markdown)
    lines.append("")
    level_label = next((lv.label for lv in plan.levels if lv.name == result.level), "")
    item = "- " if markdown else ""  # a list in markdown, or the two lines would run together
    lines.append(f"{item}score  {fmt_decimal(result.score, p)}")
    lines.append(f"{item}level  {result.level}" + (f" — {level_label}" if level_label else ""))
    if explain and ex is not None and ex.level is not None:
        for step in ex.level.steps:
            lines.append(f"       {step.level}: when {_tri(step.when)}, unless {_tri(step.unless)}")
    if result.titles:
        lines.append("")
        lines += table(
            ["title", "label", "eligibility"],
            [[t.name, t.label, t.status] for t in result.titles.values()],
            set(),
            markdown,
        )
        if explain:
            for t in result.titles.values():
                lines.append("")
                lines.append(f"{t.name}: {t.status}")
                for r in t.requires:
                    used = ", ".join(f"{k} = {_show(v)}" for k, v in r.values.items())
                    reason = f" ({r.reason})" if r.reason else ""
                    lines.append(f"  [{_mark(r.passed)}] {r.text}{reason}" + (f" — {used}" if used else ""))
    if explain and ex is not None and ex.lets:
        lines.append("")
        lines.append("lets: " + ", ".join(f"{k} = {_show(v)}" for k, v in ex.lets.items()))
    return "\n".join(lines) + "\n"


def _sum_note(ex: Any, name: str, places: int) -> str:
    if ex is None:
        return ""
    g = next((g for g in ex.groups if g.name == name), None)
    return "" if g is None else f"sum {fmt_decimal(g.total, places)}"


def _show(value: Any) -> str:
    if value is None:
        return "undecided"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value_to_json(value))


def _tri(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def _mark(passed: bool | None) -> str:
    return "?" if passed is None else ("✓" if passed else "✗")
