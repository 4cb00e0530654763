"""Every command taking a RULESET accepts the same forms (path, NAME@VERSION, NAME@latest, NAME --as-of)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[2]
RULESETS = str(ROOT / "rulesets")
CASE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"


def _submission(tmp_path: Path) -> str:
    data = json.loads(CASE.read_text(encoding="utf-8"))
    path = tmp_path / "tham_muu.json"
    path.write_text(json.dumps(data["submissions"][0]), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("ruleset", "extra"),
    [
        ("khoi3@2023.1", []),
        ("khoi3", ["--as-of", "2023-06-30"]),
        (str(ROOT / "rulesets" / "khoi3" / "2023.1.rules"), []),
    ],
)
def test_score_accepts_every_ruleset_form(
    ruleset: str, extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """thidua score resolves a path, NAME@VERSION and NAME --as-of through the registry to 2023.1."""
    args = ["score", ruleset, _submission(tmp_path), "--format", "json", "--rulesets", RULESETS, *extra]
    assert 0 == main(args)
    out = json.loads(capsys.readouterr().out)
    assert "tham_muu" == out["unit"]
    assert "102.88" == out["score"]  # the 2023.1 score of the reference example


def test_score_latest_is_the_highest_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NAME@latest resolves to 2024.1, which no longer declares the 2023 input 'initiatives'."""
    assert 1 == main(["score", "khoi3@latest", _submission(tmp_path), "--rulesets", RULESETS])
    assert "initiatives: unknown input" in capsys.readouterr().err


def test_evaluate_accepts_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    """thidua evaluate picks the version in effect on --as-of for a bare NAME."""
    args = [
        "evaluate",
        "khoi3",
        str(CASE),
        "--format",
        "json",
        "--rulesets",
        RULESETS,
        "--as-of",
        "2023-12-31",
    ]
    assert 0 == main(args)
    out = json.loads(capsys.readouterr().out)
    assert "2023.1" == out["ruleset"]["version"]


def test_unknown_ruleset_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown NAME@VERSION is reported on one line naming the argument, with exit status 1."""
    assert 1 == main(["score", "khoi3@1999.1", _submission(tmp_path), "--rulesets", RULESETS])
    err = capsys.readouterr().err
    assert err.startswith("thidua: khoi3@1999.1: ")
    assert "Traceback" not in err
