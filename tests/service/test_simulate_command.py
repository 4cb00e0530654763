"""service.commands.simulate: `thidua simulate` table, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rulesets" / "khoi3" / "2023.1.rules")
CASE = str(ROOT / "rulesets" / "khoi3" / "cases" / "2023.json")


def test_holding_invariants_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """Invariants that hold are ticked and the exit status is 0."""
    args = ["simulate", RULES, CASE, "--years", "4", "--invariant", "no-repeat-leader:3"]
    assert 0 == cli.main(args)
    out = capsys.readouterr().out
    assert "2024    hau_can   tham_muu" in out
    assert "✓ no-repeat-leader:3: holds" in out


def test_broken_invariant_exits_one_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    """A broken invariant exits 1; JSON names the first period where it broke."""
    args = ["simulate", RULES, CASE, "--years", "8", "--invariant", "every-member-leads-per-cycle"]
    assert 1 == cli.main([*args, "--format", "json"])
    got = json.loads(capsys.readouterr().out)
    assert "2028" == got["invariants"][0]["broken_at"]
    assert 9 == 1 + len(got["periods"])


def test_unknown_invariant_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown invariant exits 2 listing the known ones."""
    assert 2 == cli.main(["simulate", RULES, CASE, "--years", "2", "--invariant", "nope"])
    assert "known: no-repeat-leader:N" in capsys.readouterr().err
