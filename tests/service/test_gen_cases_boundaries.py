"""service.commands._boundaries: `thidua gen-cases --boundaries` files, output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rulesets" / "khoi3" / "2023.1.rules")
CASE = str(ROOT / "rulesets" / "khoi3" / "cases" / "2023.json")


def test_writes_case_index_and_quota_blocs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From a case's units: boundaries.json (a CASE), its index and the quota-edge blocs are written."""
    out = tmp_path / "cases"
    args = ["gen-cases", "--boundaries", RULES, "--from", CASE, "--inputs", "advanced_members"]
    assert 0 == cli.main([*args, "--out", str(out)])
    printed = capsys.readouterr().out
    case = json.loads((out / "boundaries.json").read_text(encoding="utf-8"))
    index = json.loads((out / "boundaries-index.json").read_text(encoding="utf-8"))
    assert case["members"] == list(index)
    assert {"advanced_members"} == {v["input"] for v in index.values()}
    assert (out / "quota-co_bca-2-units.json").is_file()
    assert "advanced_members = 14 (on 14): quyet_thang not_eligible → eligible" in printed


def test_tests_are_the_default_bases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --from the ruleset's own test blocks are the bases (khoi3 2024.1 has four)."""
    rules = str(ROOT / "rulesets" / "khoi3" / "2024.1.rules")
    args = ["gen-cases", "--boundaries", rules, "--inputs", "digital_models", "--out", str(tmp_path)]
    assert 0 == cli.main([*args, "--rulesets", str(ROOT / "rulesets")])
    index = json.loads((tmp_path / "boundaries-index.json").read_text(encoding="utf-8"))
    assert {"digital_models"} == {v["input"] for v in index.values()}
    assert "quota-edge blocs written to" in capsys.readouterr().err


def test_blocs_and_units_still_required_without_boundaries(capsys: pytest.CaptureFixture[str]) -> None:
    """The synthetic mode still needs --blocs and --units: exit 2 with a sentence."""
    assert 2 == cli.main(["gen-cases", RULES])
    assert "--blocs N and --units M are required (or --boundaries)" in capsys.readouterr().err


def test_no_bases_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A ruleset without test blocks and no --from: exit 2 with the way out."""
    assert 2 == cli.main(["gen-cases", "--boundaries", RULES])
    assert "give --from FILE" in capsys.readouterr().err
