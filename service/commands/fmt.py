"""``thidua fmt [--check] FILE…``: rewrite ruleset files in the canonical layout.

This module owns the command: reading files (or ``-`` for stdin → stdout),
the safety check before anything is written (the formatted text must parse to
the same tree with the same comments — `dsl.format.format_checked`), atomic
replacement (temporary file + rename, permissions kept), and ``--check``,
which changes nothing and prints the files that would change with a unified diff.
A folder argument stands for every ``*.rules`` file under it.

Exit status: 0 nothing to do (or everything formatted); 1 a file would change
(``--check``), has syntax errors, or could not be formatted safely; 2 a file
could not be read or written. Every file is processed even after an error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from dsl.errors import RulesetError
from dsl.format import FormatError, format_checked

EXIT_OK = 0
EXIT_CHANGED = 1
EXIT_ERRORS = 1
EXIT_IO = 2

STDIN = "-"


def register(subparsers: Any) -> None:
    """Add the ``fmt`` subcommand."""
    p = subparsers.add_parser(
        "fmt",
        help="rewrite ruleset files in the canonical layout",
        description="Rewrite ruleset files in place in the one canonical layout (comments kept, "
        "meaning unchanged). With --check, change nothing: list the files that would change, "
        "show the diff, and exit 1 if there are any. A folder means every *.rules file under it; "
        "FILE '-' reads stdin and writes stdout.",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="ruleset (.rules) files, folders (every *.rules file under them), or '-' for stdin",
    )
    p.add_argument("--check", action="store_true", help="do not write; exit 1 if any file is not formatted")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status."""
    status = EXIT_OK
    for name in expand(args.files):
        status = max(status, _format_one(name, check=args.check))
    return status


def expand(names: list[str]) -> list[str]:
    """The files to format: a folder stands for every ``*.rules`` file under it, sorted."""
    files: list[str] = []
    for name in names:
        if name != STDIN and Path(name).is_dir():
            files.extend(str(p) for p in sorted(Path(name).rglob("*.rules")) if p.is_file())
        else:
            files.append(name)
    return files


def _format_one(name: str, *, check: bool) -> int:
    label = "<stdin>" if name == STDIN else name
    try:
        raw = sys.stdin.buffer.read() if name == STDIN else Path(name).read_bytes()
    except OSError as exc:
        print(f"thidua fmt: {label}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    try:
        original = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        print(f"thidua fmt: {label}: not UTF-8 text (byte {exc.start})", file=sys.stderr)
        return EXIT_ERRORS
    try:
        formatted = format_checked(original, label)
    except RulesetError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_ERRORS
    except FormatError as exc:
        print(f"thidua fmt: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if check:
        if formatted == original:
            return EXIT_OK
        print(f"would reformat {label}")
        sys.stdout.write(unified_diff(original, formatted, label))
        return EXIT_CHANGED
    if name == STDIN:
        sys.stdout.write(formatted)
        return EXIT_OK
    if formatted != original:
        try:
            write_atomically(Path(name), formatted)
        except OSError as exc:
            print(f"thidua fmt: {label}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_IO
        print(f"reformatted {label}", file=sys.stderr)
    return EXIT_OK


def unified_diff(original: str, formatted: str, label: str) -> str:
    """The change as a unified diff; a last line without newline is marked as `diff -u` does."""
    out: list[str] = []
    for line in difflib.unified_diff(
        original.splitlines(keepends=True),
        formatted.splitlines(keepends=True),
        fromfile=f"{label} (original)",
        tofile=f"{label} (formatted)",
    ):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old file or the new one, never half."""
    directory = path.parent
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
