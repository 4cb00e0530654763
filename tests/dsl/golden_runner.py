"""Golden files for the parser and the formatter: compare, or rewrite when asked.

``THIDUA_REGEN=1 pytest tests/dsl/test_format.py tests/dsl/test_parser.py``
rewrites every expected file from the current output; review the diff, then commit.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN_VARIABLE = "THIDUA_REGEN"


def regenerating() -> bool:
    """Whether this run rewrites expected files instead of comparing them."""
    return os.environ.get(REGEN_VARIABLE) == "1"


def cases(folder: str) -> list[str]:
    """The case names (``NAME`` of ``NAME.rules``) in ``golden/<folder>``, sorted."""
    return sorted(p.name.removesuffix(".rules") for p in (GOLDEN / folder).glob("*.rules"))


def check_golden(expected_path: Path, actual: str) -> None:
    """Assert ``actual`` equals the file's text; with THIDUA_REGEN=1, rewrite the file first."""
    if regenerating() and (not expected_path.exists() or expected_path.read_text(encoding="utf-8") != actual):
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"{expected_path} is missing; create it with {REGEN_VARIABLE}=1"
    assert expected_path.read_text(encoding="utf-8") == actual
