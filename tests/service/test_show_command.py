"""`thidua show`: a ruleset as written or resolved flat, with its identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsl.identity import ruleset_sha256
from dsl.parser import parse
from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["show", *argv, "--rulesets", str(RULESETS)])
    out, err = capsys.readouterr()
    return code, out, err


def test_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --resolved the file is printed exactly as written."""
    code, out, _ = run(capsys, "khoi3@2024.1")
    assert 0 == code
    assert (RULESETS / "khoi3" / "2024.1.rules").read_text("utf-8") == out


def test_resolved_is_a_flat_ruleset_with_its_identity(capsys: pytest.CaptureFixture[str]) -> None:
    """--resolved prints a flat ruleset (no extends) headed by its chain and SHA-256, which it hashes to."""
    code, out, _ = run(capsys, "khoi3@2024.1", "--resolved")
    assert 0 == code
    lines = out.splitlines()
    assert "# khoi3 2024.1, resolved from khoi3 2024.1 ← khoi3 2023.1" == lines[0]
    sha = lines[1].removeprefix("# sha256 ")
    sf = parse(out, "flat.rules")
    assert sf.ruleset is not None and sf.ruleset.parent is None
    assert sha == ruleset_sha256(sf.ruleset)
    assert 4 == len(sf.tests)


def test_json_and_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json gives identity, chain and period; --as-of picks the version effective that day."""
    code, out, _ = run(capsys, "khoi3", "--as-of", "2023-06-30", "--format", "json")
    assert 0 == code
    data = json.loads(out)
    assert ("khoi3", "2023.1") == (data["name"], data["version"])
    assert {"from": "2023-01-01", "to": "2023-12-31"} == data["effective"]
    assert 64 == len(data["sha256"])


def test_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Unknown versions and broken files exit 1 with the reason; a bad date is a usage error."""
    code, _, err = run(capsys, "khoi3@2099.1")
    assert 1 == code
    assert "versions: 2023.1, 2024.1" in err
    bad = tmp_path / "bad.rules"
    bad.write_text('ruleset x version "1" extends nope version "1" { }', "utf-8")
    code, _, err = run(capsys, str(bad))
    assert 1 == code
    assert "cannot find parent ruleset nope 1" in err
    with pytest.raises(SystemExit):
        run(capsys, "khoi3", "--as-of", "yesterday")


def test_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--list shows every version with its period, parent and identity; broken files with their error."""
    code, out, _ = run(capsys, "--list")
    assert 0 == code
    lines = out.splitlines()
    assert lines[0].startswith("ruleset")
    assert lines[2].startswith("khoi3@2024.1  2024-01-01 to 2024-12-31  khoi3@2023.1  ")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.rules").write_text("ruleset x {", "utf-8")
    code = cli.main(["show", "--list", "--format", "json", "--rulesets", str(tmp_path)])
    (entry,) = json.loads(capsys.readouterr()[0])
    assert 0 == code
    assert ("x", "1", None) == (entry["name"], entry["version"], entry["sha256"])
    assert entry["error"]


def test_ruleset_or_list_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a RULESET or --list the command says what it needs, exit 2."""
    code, _, err = run(capsys)
    assert 2 == code
    assert "give a RULESET, or --list" in err
