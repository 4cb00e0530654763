"""Golden diagnostics: each ``golden/diagnostics/NAME.rules`` renders exactly ``NAME.expected``.

One file per kind of error or warning. The expected text is what ``thidua
check`` prints: every diagnostic rendered with its caret, in source order, the
file named by its bare file name so the text is the same on every machine.

Regenerate after an intended change, then review the diff:
``python -m tests.dsl.test_diagnostics_golden --regen`` (or ``THIDUA_REGEN=1 pytest …``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dsl.checker import check
from dsl.errors import RulesetError, render_all
from dsl.parser import parse

GOLDEN = Path(__file__).resolve().parent / "golden" / "diagnostics"
CASES = sorted(p.stem for p in GOLDEN.glob("*.rules"))


def diagnostics_text(path: Path) -> str:
    """The rendered diagnostics of one ruleset file (syntax errors, or check results)."""
    text = path.read_text(encoding="utf-8")
    try:
        source_file = parse(text, path.name)
    except RulesetError as exc:
        return exc.render() + "\n"
    assert source_file.ruleset is not None
    checked = check(source_file.ruleset, source=source_file.source, tests=source_file.tests)
    return render_all(checked.diagnostics, source_file.source) + "\n"


def regenerate() -> list[str]:
    """Rewrite every ``.expected`` file; returns the names that changed."""
    changed = []
    for name in CASES:
        expected = GOLDEN / f"{name}.expected"
        new = diagnostics_text(GOLDEN / f"{name}.rules")
        if not expected.exists() or expected.read_text(encoding="utf-8") != new:
            expected.write_text(new, encoding="utf-8")
            changed.append(name)
    return changed


def test_there_is_a_golden_file_per_diagnostic_kind() -> None:
    """At least 25 golden cases exist, each with its expected text."""
    assert len(CASES) >= 25
    assert [] == [name for name in CASES if not (GOLDEN / f"{name}.expected").exists()]


@pytest.mark.parametrize("name", CASES)
def test_golden_diagnostics(name: str) -> None:
    """The diagnostics of NAME.rules render exactly as NAME.expected."""
    if os.environ.get("THIDUA_REGEN") == "1":
        regenerate()
    expected = (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")
    assert expected == diagnostics_text(GOLDEN / f"{name}.rules")


def test_every_golden_case_has_a_diagnostic() -> None:
    """No golden case is silently clean: each reports at least one error or warning."""
    assert [] == [name for name in CASES if diagnostics_text(GOLDEN / f"{name}.rules").strip() == ""]


if __name__ == "__main__":
    if "--regen" in sys.argv[1:]:
        for changed in regenerate():
            print(f"rewrote {changed}.expected")
    else:
        print(__doc__)
