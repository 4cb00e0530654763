"""service.commands.whatif: `thidua whatif` text and JSON output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rulesets" / "khoi3" / "2023.1.rules")
CASE = str(ROOT / "rulesets" / "khoi3" / "cases" / "2023.json")


def test_text_lists_exact_changes(capsys: pytest.CaptureFixture[str]) -> None:
    """The people's view shows each failed requirement with its smallest changes and the whole-title answer."""
    code = cli.main(["whatif", RULES, CASE, "--unit", "ubkt", "--title", "co_ubnd", "--alone"])
    out, _ = capsys.readouterr()
    assert 0 == code
    assert "✗ score >= 92 — Đạt từ 92 điểm trở lên   [90.40 >= 92]" in out
    assert "key_tasks_excellent 3 → 4 (+1)  [exact]  → 92.90 >= 92" in out
    assert "no single change reaches it; together, these reach it (verified):" in out


def test_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bare submission file answers alone; JSON carries the ruleset identity and each change."""
    data = json.loads(Path(CASE).read_text(encoding="utf-8"))
    sub = next(s for s in data["submissions"] if s["unit"] == "ctd_ctct")
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(sub), encoding="utf-8")
    assert 0 == cli.main(["whatif", RULES, str(path), "--level", "excellent", "--format", "json"])
    got = json.loads(capsys.readouterr().out)
    assert "khoi3" == got["ruleset"]["name"]
    assert "ctd_ctct" == got["unit"]
    assert "good" == got["status"]
    assert "discipline" == got["single_changes"][0]["input"]
    assert [] == got["single_changes"][0]["to"]


def test_case_without_unit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A CASE without --unit exits 2 with a sentence saying what is missing."""
    assert 2 == cli.main(["whatif", RULES, CASE, "--title", "co_bca"])
    assert "needs --unit" in capsys.readouterr().err


def test_unknown_level_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown level is reported with a suggestion, exit 1, no traceback."""
    assert 1 == cli.main(["whatif", RULES, CASE, "--unit", "ubkt", "--level", "excelent"])
    assert "did you mean 'excellent'?" in capsys.readouterr().err


def test_all_lists_why_inputs_cannot_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--all names each input that cannot help with its reason (a declared range here)."""
    args = ["whatif", RULES, CASE, "--unit", "ubkt", "--title", "co_ubnd", "--alone", "--all"]
    assert 0 == cli.main([*args, "--inputs", "reviews_held,key_tasks_excellent"])
    out = capsys.readouterr().out
    assert "cannot: reviews_held — raising it: reviews_held must be from 0 to 2, got 3" in out
    assert "key_tasks_excellent 3 → 4 (+1)  [exact]" in out
