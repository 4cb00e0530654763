"""``thidua evaluate [RULESET] CASE.json``: decide a whole bloc and print it.

This module owns the command's arguments and its three outputs: a table for
people (ranking with one column per title, then the titles summary and the
rotation with the deciding alternative), the same as GitHub markdown, and the
SPEC §2 JSON (`BlocResult.to_json`). ``--explain`` adds every title
requirement's result and the rotation traces.

RULESET is a path or ``NAME@VERSION``; when it is omitted, the case's own
``"ruleset"`` field is used. When both are given the argument wins (a note
on stderr says so if they differ).

Long runs (thousands of units) show progress on stderr when it is a terminal.

Exit status: 0 decided; 1 the ruleset, the case or the evaluation has
errors (all of them printed); 2 usage errors and missing files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from dsl.results import AWARDED, OVER_QUOTA, TIED, BlocResult, RequireResult, fmt_decimal
from service.commands._common import (
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_USAGE,
    add_registry_options,
    load_ruleset,
    report_input_error,
    report_load_error,
)

#: How a title status looks in the table (SPEC: people read tables, machines read JSON).
STATUS_MARKS = {AWARDED: "✓", TIED: "tied", OVER_QUOTA: "over quota"}
NOT_AWARDED_MARK = "–"


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="decide a whole bloc: scores, ranking, titles, rotation",
        usage="thidua evaluate [RULESET] CASE.json [--explain] [--format table|markdown|json] "
        "[--rulesets DIR] [--as-of DATE]",
        description="Score every unit of a bloc, rank them, award each title within its quota "
        "(reporting ties for a vote) and decide next period's leader and deputy.",
    )
    p.add_argument(
        "args",
        nargs="+",
        metavar="RULESET CASE.json",
        help='the ruleset (a .rules path or NAME@VERSION; default: the case\'s own "ruleset" field) '
        "and the case file",
    )
    p.add_argument(
        "--explain", action="store_true", help="show every requirement's result and the rotation trace"
    )
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output format")
    add_registry_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    from dsl.bloc import evaluate_bloc
    from dsl.case import read_json

    positional: list[str] = list(args.args)
    if len(positional) > 2:
        print("thidua evaluate: expected [RULESET] CASE.json", file=sys.stderr)
        return EXIT_USAGE
    case_path = positional[-1]
    ruleset_arg = positional[0] if len(positional) == 2 else None
    try:
        text = Path(case_path).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"thidua evaluate: cannot read {case_path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        print(f"{case_path}: invalid case: not UTF-8 text (byte {exc.start}: {exc.reason})", file=sys.stderr)
        return EXIT_ERRORS
    try:
        data = read_json(text, case_path)
        case_ref = data.get("ruleset") if isinstance(data, dict) else None
        if ruleset_arg is None:
            if not isinstance(case_ref, str):
                print(
                    f'thidua evaluate: no RULESET given and {case_path} names none ("ruleset": "NAME@VERSION")',
                    file=sys.stderr,
                )
                return EXIT_USAGE
            ruleset_arg = case_ref
        compiled = load_ruleset(ruleset_arg, args)
        if isinstance(case_ref, str) and ruleset_arg != case_ref:
            ref = f"{compiled.name}@{compiled.version}"
            if ref != case_ref:
                given = "" if ruleset_arg == ref else f" ({ruleset_arg})"
                print(f"note: evaluating with {ref}{given}; the case names {case_ref}", file=sys.stderr)
        progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
        try:
            result = evaluate_bloc(compiled, data, explain=args.explain, progress=progress)
        finally:
            if progress is not None:
                progress.clear()
    except (RulesetError, NotFoundError) as exc:
        report_load_error(exc, ruleset_arg or case_path)
        return EXIT_ERRORS
    except InputError as exc:
        report_input_error(exc, case_path)
        return EXIT_ERRORS
    except EvaluationError as exc:
        print(f"thidua: {case_path}: evaluation error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    write(result, args.format, args.explain, sys.stdout)
    return EXIT_OK


class _Progress:
    """Shows how far a long evaluation has got on one terminal line (only once there is something to show)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.shown and done == 0:
            return  # small blocs finish before the first report: print nothing
        self.shown = True
        self.stream.write(f"\r{stage}: {done:,}/{total:,}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def write(result: BlocResult, fmt: str, explain: bool, out: TextIO) -> None:
    """Print ``result`` in ``fmt`` (table, markdown or json)."""
    if fmt == "json":
        json.dump(result.to_json(explain=explain), out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    out.write(render(result, markdown=fmt == "markdown", explain=explain))


# ------------------------------------------------------------------ rendering


def render(result: BlocResult, *, markdown: bool = False, explain: bool = False) -> str:
    """The people's view: ranking table, titles summary, rotation (and explanations)."""
    titles = list(result.titles.values())
    header = ["rank", "unit", "score", "level", *(t.name for t in titles)]
    rows = []
    for u in result.units:
        marks = [STATUS_MARKS.get(u.titles[t.name].status, NOT_AWARDED_MARK) for t in titles]
        rows.append([str(u.rank), u.unit or "", fmt_decimal(u.score, u.places), u.level, *marks])
    numeric = {0, 2}
    lines: list[str] = []
    heading = f"{result.ruleset.name} {result.ruleset.version}"
    if result.bloc or result.period:
        heading = f"{result.bloc or ''} {result.period or ''}".strip() + f" — ruleset {heading}"
    lines.append(("## " if markdown else "") + heading)
    lines.append("")
    lines += table(header, rows, numeric, markdown)
    lines.append("")
    lines.append(("### " if markdown else "") + "Titles")
    lines.append("")
    summary = []
    for t in titles:
        quota = "no quota" if t.quota is None else f"quota {t.quota}"
        summary.append(
            [
                t.name,
                t.label,
                quota,
                ", ".join(t.awarded) or NOT_AWARDED_MARK,
                ", ".join(t.tied) or NOT_AWARDED_MARK,
                ", ".join(t.over_quota) or NOT_AWARDED_MARK,
            ]
        )
    lines += table(
        ["title", "label", "quota", "awarded", "tied (to vote)", "over quota"], summary, set(), markdown
    )
    if result.rotation is not None:
        lines.append("")
        lines.append(("### " if markdown else "") + "Rotation")
        lines.append("")
        rot_rows = []
        for d in (result.rotation.leader, result.rotation.deputy):
            rot_rows.append([d.role, d.unit, d.trace[d.chosen_by].alternative])
        lines += table(["role", "unit", "chosen by"], rot_rows, set(), markdown)
    if explain:
        lines += _explain(result, markdown)
    return "\n".join(lines) + "\n"


def _explain(result: BlocResult, markdown: bool) -> list[str]:
    lines: list[str] = ["", ("### " if markdown else "") + "Requirements", ""]
    for u in result.units:
        lines.append(
            ("#### " if markdown else "") + f"{u.unit} (rank {u.rank}, {fmt_decimal(u.score, u.places)})"
        )
        for t in u.titles.values():
            note = f" — {t.note}" if t.note else ""
            lines.append(f"{'- ' if markdown else '  '}{t.name}: {t.status}{note}")
            for r in t.requires:
                lines.append(f"{'  - ' if markdown else '      '}{_require_line(r)}")
        lines.append("")
    if result.rotation is not None:
        lines.append(("### " if markdown else "") + "Rotation alternatives")
        lines.append("")
        for d in (result.rotation.leader, result.rotation.deputy):
            lines.append(f"{'- ' if markdown else '  '}{d.role}: {d.unit}")
            for i, p in enumerate(d.trace):
                if i == d.chosen_by:
                    outcome = f"→ {p.unit} (chosen)"
                else:
                    outcome = f"✗ {p.why_not}"
                lines.append(f"{'  - ' if markdown else '      '}{i + 1}. {p.alternative}: {outcome}")
    return lines


def _require_line(r: RequireResult) -> str:
    mark = {True: "✓", False: "✗", None: "?"}[r.passed]
    values = ", ".join(f"{k} = {_show(v)}" for k, v in r.values.items())
    reason = f" — {r.reason}" if r.reason else ""
    return f"{mark} {r.text}{reason}" + (f" [{values}]" if values else "")


def _show(value: Any) -> str:
    from dsl.results import value_to_json

    v = value_to_json(value)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return f"[{len(v)} item{'s' if len(v) != 1 else ''}]"
    return str(v)


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int], markdown: bool
) -> list[str]:
    """Rows as an aligned text table, or a GitHub markdown table (numeric columns right-aligned)."""
    if markdown:
        out = ["| " + " | ".join(_md(h) for h in header) + " |"]
        out.append("|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|")
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
        return out
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")
