"""service.commands.test: `thidua test` prints failures and a final count line, exit 1 on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli

RULES = """ruleset tr version "1" {
  input x: int
  group g "G" max 100 { criterion c "C" = x }
  test "passes" {
    given { x = 95 }
    expect score == 95.00
  }
  test "fails" {
    given { x = 92 }
    expect score == 93.50
  }
}
"""


def test_failures_and_count_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failing expect prints path:line: FAIL with actual value; last line counts; exit 1."""
    path = tmp_path / "tr.rules"
    path.write_text(RULES, encoding="utf-8")
    assert 1 == cli.main(["test", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert [f'{path}:10: FAIL "fails": expect score == 93.50 — score is 92.00', "1 passed, 1 failed"] == lines


def test_all_pass_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only passing tests: exit 0, `-v` lists them."""
    path = tmp_path / "tr.rules"
    path.write_text(RULES.replace("93.50", "92.00"), encoding="utf-8")
    assert 0 == cli.main(["test", "-v", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert "2 passed, 0 failed" == lines[-1]
    assert f'{path}:4: ok "passes"' == lines[0]


def test_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is a usage error."""
    assert 2 == cli.main(["test", "/nonexistent/rules"])
    assert "no such file" in capsys.readouterr().err


def test_bundled_rulesets_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """The repository's own rulesets/ tests pass."""
    root = Path(__file__).resolve().parents[2] / "rulesets"
    assert 0 == cli.main(["test", str(root)])
    assert capsys.readouterr().out.splitlines()[-1].endswith(", 0 failed")
