"""Coverage-guided fuzzing (atheris / libFuzzer) of parser, checker, formatter, compiler and evaluator.

    .venv/bin/pip install atheris        # not a project dependency: fuzzing only
    .venv/bin/python bench/fuzz_atheris.py -max_total_time=300 [-jobs=1] [CORPUS_DIR]

Each input is read as ruleset text (bytes decoded as UTF-8 with replacement,
so every input is text); it is parsed, checked, formatted (and the output
re-formatted: it must be a fixed point), compiled and scored with no inputs
and with a few hostile ones. Anything but our own errors (`ThiduaError`)
is a crash that libFuzzer reports with the input saved as ``crash-*``.
The seed corpus is every ``.rules`` file under rulesets/ and tests/,
used when no corpus folder is given. Not part of the test suite.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402

with atheris.instrument_imports(include=["dsl"]):
    from dsl.api import compile_checked
    from dsl.checker import check
    from dsl.errors import ThiduaError
    from dsl.format import format_text
    from dsl.parser import parse

HOSTILE: list[dict[str, object]] = [
    {},
    {"members": 10**30, "x": None},
    {"members": Decimal("NaN"), "discipline": [{"a": 1}], "party_rating": "excellent"},
]


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        sf = parse(text, "fuzz.rules")
        formatted = format_text(text, "fuzz.rules")
        if format_text(formatted, "fuzz.rules") != formatted:
            raise AssertionError("formatting is not idempotent")
        if sf.ruleset is None or sf.ruleset.parent is not None:
            return
        if not check(sf.ruleset, source=sf.source, tests=sf.tests).ok:
            return
        rs = compile_checked(sf.ruleset, source=sf.source, path="fuzz.rules", tests=sf.tests)
        for raw in HOSTILE:
            with contextlib.suppress(ThiduaError):
                rs.score(dict(raw), unit="u", explain=True)
    except ThiduaError:
        return


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        # No corpus folder: seed a temporary one with every ruleset file of the repository.
        corpus = Path(tempfile.mkdtemp(prefix="thidua-fuzz-corpus-"))
        for i, path in enumerate(sorted([*ROOT.glob("rulesets/**/*.rules"), *ROOT.glob("tests/**/*.rules")])):
            (corpus / f"seed-{i}").write_bytes(path.read_bytes())
        args.append(str(corpus))
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
