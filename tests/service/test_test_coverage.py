"""service.commands.test --coverage: the report after the test results and the CI threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rulesets" / "khoi3" / "2024.1.rules")


def test_coverage_report_follows_results(capsys: pytest.CaptureFixture[str]) -> None:
    """`thidua test --coverage` prints the test summary, then per-ruleset coverage and a total line."""
    assert 0 == cli.main(["test", RULES, "--coverage"])
    out = capsys.readouterr().out
    assert "4 passed, 0 failed" in out
    assert "coverage khoi3 2024.1" in out
    assert "table in criterion targets: never row 2, row 3, else" in out
    assert out.rstrip().splitlines()[-1].startswith("coverage: ")


def test_coverage_minimum_fails_ci(capsys: pytest.CaptureFixture[str]) -> None:
    """Below --coverage-min the exit status is 1 with a sentence on stderr; at 0 it passes."""
    assert 1 == cli.main(["test", RULES, "--coverage-min", "99"])
    assert "is below the minimum 99" in capsys.readouterr().err
    assert 0 == cli.main(["test", RULES, "--coverage-min", "0"])
