"""``thidua gen-cases --boundaries RULESET``: cases on and next to every threshold (issue 9).

This module owns the ``--boundaries`` mode of ``gen-cases`` (the command
itself, `service.commands.gen_cases`, calls `add_boundary_options` and hands
over to `run_boundaries`); generating is `dsl.boundaries`'s job. Its name
starts with ``_`` so that the CLI does not take it for a command of its own.

Base submissions come from ``--from FILE`` (a CASE: every unit; a
submission ``{"unit", "inputs"}``; or bare inputs), or else from the
ruleset's own test ``given`` blocks. Written to ``--out DIR`` (default
``boundary-cases``):

* ``boundaries.json`` — one CASE whose units are the boundary submissions
  (``b0007_advanced_members_34``); ready for ``thidua evaluate`` and
  ``thidua diff OLD NEW boundaries.json``;
* ``boundaries-index.json`` — per generated unit: its base, the input moved,
  the value, the edge, the side (below/on/above) and what changes across it;
* ``quota-<title>-<n>-units.json`` — blocs at each title's quota edge.

Exit status: 0 written; 1 a ruleset or input error; 2 usage errors,
unreadable or unwritable files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsl.errors import EvaluationError, InputError, NotFoundError, RulesetError
from service.commands._common import EXIT_ERRORS, EXIT_OK, EXIT_USAGE

DEFAULT_OUT = "boundary-cases"


def add_boundary_options(p: argparse.ArgumentParser) -> None:
    """``--boundaries``, ``--from FILE`` and ``--inputs a,b`` (``--out`` is the command's own)."""
    p.add_argument(
        "--boundaries",
        action="store_true",
        help="instead of synthetic blocs: cases on and next to every threshold, cap, table row edge "
        f"and quota edge of RULESET, written to --out DIR (default {DEFAULT_OUT})",
    )
    p.add_argument(
        "--from",
        dest="boundaries_from",
        metavar="FILE",
        default=None,
        help="with --boundaries: base submissions (a CASE, a submission or bare inputs; "
        "default: the ruleset's test blocks)",
    )
    p.add_argument(
        "--inputs",
        dest="boundaries_inputs",
        metavar="A,B",
        default=None,
        help="with --boundaries: only move these inputs",
    )


def run_boundaries(args: argparse.Namespace) -> int:
    """The ``--boundaries`` mode: returns the exit status."""
    from dsl.boundaries import bases_from_tests, boundary_cases
    from dsl.case import read_json
    from dsl.registry import resolve_ruleset_arg

    text = ""
    source = getattr(args, "boundaries_from", None)
    if source is not None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            print(f"thidua gen-cases: cannot read {source}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        compiled = resolve_ruleset_arg(
            args.ruleset, rulesets_dir=getattr(args, "rulesets", None), as_of=getattr(args, "as_of", None)
        )
        bases = (
            _bases(read_json(text, source, "base file")) if source is not None else bases_from_tests(compiled)
        )
        if not bases:
            print(
                "thidua gen-cases: no base submissions: give --from FILE (the ruleset has no test blocks)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        wanted = getattr(args, "boundaries_inputs", None)
        only = [x.strip() for x in wanted.split(",") if x.strip()] if wanted else None
        generated = boundary_cases(compiled, bases, only=only)
    except RulesetError as exc:
        print(exc.render() or str(exc), file=sys.stderr)
        return EXIT_ERRORS
    except (InputError, EvaluationError, NotFoundError) as exc:
        print(f"thidua gen-cases: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write(out / "boundaries.json", generated.case())
        _write(out / "boundaries-index.json", generated.index())
        for label, case in generated.quota_cases:
            _write(out / (label.split(" ")[0] + ".json"), case)
    except OSError as exc:
        print(f"thidua gen-cases: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    for b in generated.boundaries:
        note = b.to_json()
        print(f"{b.unit}: {b.input} = {note['value']} ({b.side} {note['edge']}): {b.changes}")
    for label, _ in generated.quota_cases:
        print(f"{label.split(' ')[0]}.json: {label}")
    for note_text in generated.notes:
        print(f"note: {note_text}", file=sys.stderr)
    print(
        f"{len(generated.boundaries)} boundary submissions and {len(generated.quota_cases)} "
        f"quota-edge blocs written to {out}/",
        file=sys.stderr,
    )
    return EXIT_OK


def _bases(data: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(data, Mapping) and isinstance(data.get("submissions"), list):
        out = []
        for i, s in enumerate(data["submissions"]):
            if isinstance(s, Mapping) and isinstance(s.get("inputs"), Mapping):
                out.append((str(s.get("unit", f"submission {i}")), s["inputs"]))
        return out
    if isinstance(data, Mapping) and isinstance(data.get("inputs"), Mapping):
        return [(str(data.get("unit", "submission")), data["inputs"])]
    if isinstance(data, Mapping):
        return [("inputs", data)]
    return []


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
