"""What the commands share: exit statuses, the RULESET argument and error printing.

Every command that takes a RULESET accepts the same forms (a ``.rules`` path,
``NAME@VERSION``, ``NAME@latest``, or ``NAME`` with ``--as-of DATE``) and the
same registry options, and reports a ruleset that does not load the same way.
This module has no ``register``: the CLI does not mistake it for a command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, TextIO

from dsl.errors import InputError, NotFoundError, RulesetError

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

EXIT_OK = 0
#: A ruleset, submission or case that is wrong (or, for `check`/`test`, that fails).
EXIT_ERRORS = 1
#: The command line itself is wrong, or a file cannot be read.
EXIT_USAGE = 2


def add_registry_options(p: argparse.ArgumentParser) -> None:
    """``--rulesets DIR`` (alias ``--rulesets-dir``) and ``--as-of DATE``."""
    p.add_argument(
        "--rulesets",
        "--rulesets-dir",
        dest="rulesets",
        metavar="DIR",
        default=None,
        help="registry folder for NAME@VERSION (default: $THIDUA_RULESETS, else ./rulesets)",
    )
    p.add_argument(
        "--as-of",
        dest="as_of",
        metavar="DATE",
        type=date_arg,
        default=None,
        help="with a bare NAME: the highest version whose effective period contains DATE (YYYY-MM-DD)",
    )


def date_arg(text: str) -> dt.date:
    """An argparse type: an ISO date."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def load_ruleset(arg: str, args: argparse.Namespace) -> CompiledRuleset:
    """A RULESET argument found, resolved, checked and compiled.

    ``--as-of`` picks the version of a bare ``NAME`` only; a path or an
    explicit ``NAME@VERSION`` keeps its own version. Raises `RulesetError`,
    `NotFoundError` or `InputError` (print them with `report_load_error`).
    """
    from dsl.registry import looks_like_path, parse_ref, resolve_ruleset_arg

    as_of = getattr(args, "as_of", None)
    ref = None if looks_like_path(arg) else parse_ref(arg)
    if ref is None or ref.version is not None:
        as_of = None
    return resolve_ruleset_arg(arg, rulesets_dir=getattr(args, "rulesets", None), as_of=as_of)


def report_load_error(
    exc: RulesetError | NotFoundError | InputError, arg: str, out: TextIO | None = None
) -> None:
    """Print why a RULESET argument did not load: diagnostics with carets, or one line."""
    out = out if out is not None else sys.stderr
    if isinstance(exc, RulesetError):
        print(exc.render() or str(exc), file=out)
    else:
        print(f"thidua: {arg}: {exc}", file=out)


def report_input_error(exc: InputError, where: str, out: TextIO | None = None) -> None:
    """Print every violation of a submission or case, one per line under a header."""
    out = out if out is not None else sys.stderr
    print(f"thidua: {where}: invalid {exc.what}:", file=out)
    for v in exc.violations:
        print(f"  {v.field}: {v.message}", file=out)
