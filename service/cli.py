"""The ``thidua`` command line: one argparse parser, subcommands discovered from `service.commands`.

This module owns the entry point and the last safety net: any error the
engine raises on purpose (`dsl.errors.ThiduaError`) becomes one line on
stderr and exit status 2, never a traceback. Commands print their own,
richer diagnostics first; this net catches what they let through.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from dsl.errors import ThiduaError

COMMANDS_PACKAGE = "service.commands"

#: What ``set_defaults(func=...)`` must hold: the handler of a subcommand.
Handler: TypeAlias = Callable[[argparse.Namespace], int]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def version() -> str:
    """The installed distribution's version (``0+unknown`` when run from an uninstalled tree)."""
    # Imported here: importlib.metadata costs a noticeable share of every command's start-up.
    from importlib import metadata

    try:
        return metadata.version("thidua")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class _VersionAction(argparse.Action):
    """``--version``, reading the installed version only when asked (it is slow to look up)."""

    def __init__(
        self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object
    ) -> None:
        super().__init__(
            option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help="show the version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser(commands_package: str = COMMANDS_PACKAGE) -> argparse.ArgumentParser:
    """The full parser: global options plus every subcommand found in ``commands_package``."""
    parser = argparse.ArgumentParser(
        prog="thidua",
        description="Rules engine for emulation scoring (thi đua): check, format, test and "
        "evaluate rulesets, and serve them over gRPC.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    package = importlib.import_module(commands_package)
    # Sorted so that the help lists commands in a stable order whatever the file system returns.
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_package}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return func(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``thidua`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    try:
        return _run(argv)
    except ThiduaError as exc:
        print(f"thidua: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`thidua ... | head`). Point stdout at devnull so the
        # interpreter's final flush does not raise again (recipe from the `signal` docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        # A missing or unreadable file named on the command line is the user's
        # error, not the program's: one line, no traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"thidua: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
