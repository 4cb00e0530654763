"""service.commands.check + dsl.lint: `thidua check` shows monotonicity warnings with a caret."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]


def test_check_reports_monotonicity_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A late-reports input marked `more is better` warns at the criterion; warnings keep exit 0."""
    text = (ROOT / "rulesets" / "khoi3" / "2023.1.rules").read_text(encoding="utf-8")
    decl = "input reports_late: int in 0..reports_due"
    path = tmp_path / "k.rules"
    path.write_text(text.replace(decl, decl + " more is better", 1), encoding="utf-8")
    assert 0 == cli.main(["check", str(path)])
    out, err = capsys.readouterr()
    assert f"{path}:44:5: warning: criterion 'reporting' loses points as `reports_late` increases" in out
    assert "0 errors, 1 warning" in err
