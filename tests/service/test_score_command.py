"""service.commands.score: `thidua score` table/JSON output, .jsonl streaming and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "fixtures" / "khoi3-2023.1.rules"
CASE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"


def submissions() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(CASE.read_text(encoding="utf-8"))
    subs: list[dict[str, Any]] = data["submissions"]
    return subs


@pytest.fixture
def wrapped(tmp_path: Path) -> Path:
    path = tmp_path / "tham_muu.json"
    path.write_text(json.dumps(submissions()[0]), encoding="utf-8")
    return path


def test_json_output_is_one_unit(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--format json` prints one element of SPEC §2 units with titles as eligibility."""
    assert 0 == cli.main(["score", str(RULES), str(wrapped), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert ("tham_muu", "102.88", "excellent") == (out["unit"], out["score"], out["level"])
    assert "undecided" == out["titles"]["co_bca"]
    assert "rank" not in out
    assert "khoi3" == out["ruleset"]["name"]


def test_bare_inputs_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A submission file may hold the inputs object alone."""
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(submissions()[1]["inputs"]), encoding="utf-8")
    assert 0 == cli.main(["score", str(RULES), str(path), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert "90.40" == out["score"] and "unit" not in out


def test_table_output_for_people(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table lists criteria by group with points and max, then score, level and titles."""
    assert 0 == cli.main(["score", str(RULES), str(wrapped)])
    out = capsys.readouterr().out
    assert "score  102.88" in out
    assert "level  excellent — Hoàn thành xuất sắc nhiệm vụ" in out
    assert any(line.split()[:3] == ["training", "Kiểm", "tra"] for line in out.splitlines())
    assert "co_bca" in out and "undecided" in out


def test_explain_shows_raw_values_and_requirements(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--explain adds raw values, clamping, table rows, level steps and requirement outcomes."""
    assert 0 == cli.main(["score", str(RULES), str(wrapped), "--explain"])
    out = capsys.readouterr().out
    assert "clamped" in out and "row 1" in out and "5.875" in out
    assert "[?] rank == 1" in out
    assert "excellent: when yes, unless no" in out


def test_explain_json(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--explain with JSON adds the explanation object."""
    assert 0 == cli.main(["score", str(RULES), str(wrapped), "--explain", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert "6" == out["explanation"]["criteria"]["mass_movement"]["raw"]
    assert out["explanation"]["criteria"]["mass_movement"]["clamped"] is True


def test_invalid_submission_lists_every_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad inputs print `thidua: …` with each violation and exit 1, no traceback."""
    sub = submissions()[0]
    sub["inputs"].update(members="many", party_rating="great")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(sub), encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(path)])
    err = capsys.readouterr().err
    assert err.startswith("thidua: ")
    assert "  members: must be a whole number" in err
    assert "  party_rating: must be one of" in err
    assert "Traceback" not in err


def test_invalid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A submission that is not JSON is one clear error line with its position."""
    path = tmp_path / "bad.json"
    path.write_text("{nope", encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(path)])
    assert "invalid JSON" in capsys.readouterr().err


def test_jsonl_streams_and_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each .jsonl line gets a result or an error object; one bad line makes the exit 1."""
    lines = [json.dumps(s) for s in submissions()]
    lines.insert(2, json.dumps({"unit": "x", "inputs": {"members": "a"}}))
    lines.append("not json")
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(path)])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 8 == len(records)
    assert ["102.88", "90.40"] == [records[0]["score"], records[1]["score"]]
    assert 3 == records[2]["line"] and "input" == records[2]["error"]["kind"]
    assert any(v["field"] == "members" for v in records[2]["error"]["violations"])
    assert {"line": 8, "error": {"kind": "json", "message": "invalid JSON: Expecting value"}} == records[-1]


def test_jsonl_lines_end_at_newlines_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON string holding a raw U+2028 (valid JSON) stays on its line: lines end at \\n only."""
    first, second = submissions()[:2]
    first = {**first, "unit": "tham\u2028muu"}
    path = tmp_path / "sep.jsonl"
    path.write_text(
        json.dumps(first, ensure_ascii=False) + "\n" + json.dumps(second) + "\n", encoding="utf-8"
    )
    assert 0 == cli.main(["score", str(RULES), str(path)])
    records = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert [("tham\u2028muu", "102.88"), (second["unit"], "90.40")] == [
        (r["unit"], r["score"]) for r in records
    ]


def test_evaluation_error_names_criterion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Division by zero prints the criterion and its line, exit 1."""
    rules = tmp_path / "d.rules"
    rules.write_text(
        'ruleset d version "1" {\n  input a: int\n  input b: int\n'
        '  group g "G" max 10 { criterion c "C" = a / b }\n}\n',
        encoding="utf-8",
    )
    sub = tmp_path / "s.json"
    sub.write_text('{"a": 1, "b": 0}', encoding="utf-8")
    assert 1 == cli.main(["score", str(rules), str(sub)])
    err = capsys.readouterr().err
    assert "criterion 'c'" in err and "d.rules:4" in err and "division by zero" in err


def test_unknown_registry_reference(
    wrapped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NAME@VERSION that the registry lacks is a clear error."""
    assert 1 == cli.main(["score", "nope@1", str(wrapped), "--rulesets-dir", str(tmp_path)])
    assert "nope" in capsys.readouterr().err


def test_missing_submission_file(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable submission file is a usage error (exit 2)."""
    assert 2 == cli.main(["score", str(RULES), "/nonexistent/x.json"])
    assert "cannot read" in capsys.readouterr().err


def test_registry_reference(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RULESET may be NAME@VERSION from the registry folder."""
    rulesets = ROOT / "rulesets"
    assert 0 == cli.main(
        ["score", "khoi3@2023.1", str(wrapped), "--format", "json", "--rulesets-dir", str(rulesets)]
    )
    out = json.loads(capsys.readouterr().out)
    assert ("2023.1", "102.88") == (out["ruleset"]["version"], out["score"])


def test_duplicate_json_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key given twice in a submission is an error naming it, not a silently kept last value."""
    path = tmp_path / "dup.json"
    text = json.dumps(submissions()[0]["inputs"])
    path.write_text('{"members": 1, ' + text[1:], encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(path)])
    assert 'the key "members" appears twice' in capsys.readouterr().err


def test_absurdly_nested_submission_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON nested beyond what the parser can follow is a one-line error (file and .jsonl), not a traceback."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(path)])
    assert "invalid JSON: nested too deeply" in capsys.readouterr().err
    lines = tmp_path / "deep.jsonl"
    lines.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert 1 == cli.main(["score", str(RULES), str(lines)])
    assert "nested too deeply" == json.loads(capsys.readouterr().out)["error"]["message"].split(": ")[1]


def test_markdown_output(wrapped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--format markdown` (SPEC §2: tabular output) prints GitHub tables for criteria and titles."""
    assert 0 == cli.main(["score", str(RULES), str(wrapped), "--format", "markdown"])
    out = capsys.readouterr().out.splitlines()
    assert "| criterion | label | points | max |" in out
    assert "| title | label | eligibility |" in out
    assert "- score  102.88" in out
