"""`thidua evaluate`: output formats, the RULESET/case reference rule, and errors as exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rulesets" / "khoi3" / "2023.1.rules"
CASE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def case_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CASE.read_text(encoding="utf-8"))
    return data


def write_case(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_table_shows_ranking_titles_and_rotation(capsys: pytest.CaptureFixture[str]) -> None:
    """The default table lists ranks, a column per title with marks, the titles summary and the rotation."""
    code, out, _ = run(capsys, str(RULES), str(CASE))
    assert 0 == code
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("rank"))
    assert [
        "rank",
        "unit",
        "score",
        "level",
        "tien_tien",
        "quyet_thang",
        "co_bca",
        "co_ubnd",
    ] == header.split()
    first = next(line for line in lines if "tham_muu" in line and "102.88" in line)
    assert ["1", "tham_muu", "102.88", "excellent", "✓", "✓", "✓", "–"] == first.split()
    assert any(line.split()[:3] == ["leader", "hau_can", "current.deputy"] for line in lines)
    assert any(line.startswith("co_bca") and "tham_muu" in line for line in lines)


def test_markdown_is_a_github_table(capsys: pytest.CaptureFixture[str]) -> None:
    """--format markdown prints pipe tables with an alignment row."""
    code, out, _ = run(capsys, str(RULES), str(CASE), "--format", "markdown")
    assert 0 == code
    assert "| rank | unit | score | level | tien_tien | quyet_thang | co_bca | co_ubnd |" in out
    assert "|---:|---|---:|---|---|---|---|---|" in out
    assert "| 1 | tham_muu | 102.88 | excellent | ✓ | ✓ | ✓ | – |" in out


def test_explain_adds_requirements_and_rotation_trace(capsys: pytest.CaptureFixture[str]) -> None:
    """--explain lists each requirement with its values and each rotation alternative."""
    code, out, _ = run(capsys, str(RULES), str(CASE), "--explain")
    assert 0 == code
    assert "✗ not co_bca — Chưa được đề nghị Cờ thi đua của Bộ Công an [co_bca = true]" in out
    assert "advanced_members >= 70% * members" in out
    assert "1. current.deputy: → hau_can (chosen)" in out


def test_json_explain_carries_requirements(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json --explain includes each unit's title requirements and the rotation alternatives."""
    code, out, _ = run(capsys, str(RULES), str(CASE), "--format", "json", "--explain")
    assert 0 == code
    data = json.loads(out)
    ubkt = next(u for u in data["units"] if u["unit"] == "ubkt")
    reqs = ubkt["explanation"]["titles"]["quyet_thang"]["requires"]
    at_boundary = next(r for r in reqs if r["require"] == "advanced_members >= 70% * members")
    assert {"passed": True, "values": {"advanced_members": "14", "members": "20"}} == {
        k: at_boundary[k] for k in ("passed", "values")
    }
    assert "current.deputy" == data["rotation"]["explanation"]["leader"]["chosen_by"]


def test_a_tie_shows_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two units level on every ranking key at the flag's quota are reported as tied, for a vote."""
    data = case_data()
    subs = {s["unit"]: s for s in data["submissions"]}
    # tccb becomes an exact copy of tham_muu's figures: same score, same votes.
    subs["tccb"]["inputs"] = dict(subs["tham_muu"]["inputs"])
    path = write_case(tmp_path, data)
    code, out, _ = run(capsys, str(RULES), path, "--format", "json")
    assert 0 == code
    flag = json.loads(out)["titles"]["co_bca"]
    assert ([], ["tham_muu", "tccb"]) == (flag["awarded"], sorted(flag["tied"], reverse=True))
    code, out, _ = run(capsys, str(RULES), path)
    row = next(line for line in out.splitlines() if line.startswith("co_bca"))
    assert "tham_muu, tccb" in row


def test_bad_case_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad case exits 1 and prints each problem with its path, inputs prefixed by the submission."""
    data = case_data()
    data["members"].append("ubkt")
    data["submissions"][1]["inputs"]["members"] = -3
    data["submissions"].append({"unit": "ghost", "inputs": {}})
    code, out, err = run(capsys, str(RULES), write_case(tmp_path, data))
    assert 1 == code
    assert "" == out
    assert "members[6]: 'ubkt' is listed twice" in err
    assert "submissions[1](ubkt).inputs.members:" in err
    assert "submissions[6].unit: 'ghost' is not a member of the bloc" in err


def test_exhausted_rotation_is_an_evaluation_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no current holders the leader chain runs out: exit 1 naming the role and each alternative."""
    data = case_data()
    data["current"] = {}
    code, _, err = run(capsys, str(RULES), write_case(tmp_path, data))
    assert 1 == code
    assert "no unit could be chosen as leader" in err
    assert "there is no current deputy" in err
    assert err.startswith("thidua: ")  # like every other error of the command


def test_invalid_json_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed JSON is reported with its position (exit 1); a missing case file is a usage error (exit 2)."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"members": [', encoding="utf-8")
    code, _, err = run(capsys, str(RULES), str(bad))
    assert 1 == code
    assert "not valid JSON" in err
    code, _, err = run(capsys, str(RULES), str(tmp_path / "nope.json"))
    assert 2 == code
    assert "nope.json" in err


def test_ruleset_errors_are_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ruleset that does not check exits 1 with its diagnostics, not a traceback."""
    broken = tmp_path / "broken.rules"
    broken.write_text(
        RULES.read_text(encoding="utf-8").replace(
            "targets_met / targets_assigned", "targets_mett / targets_assigned"
        ),
        encoding="utf-8",
    )
    code, _, err = run(capsys, str(broken), str(CASE))
    assert 1 == code
    assert "targets_mett" in err
    assert "Traceback" not in err


def test_argument_wins_over_the_case_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When RULESET names another version than the case's "ruleset" field, the argument is used and a note says so."""
    other = tmp_path / "khoi3" / "2023.9.rules"
    other.parent.mkdir()
    other.write_text(
        RULES.read_text(encoding="utf-8").replace('version "2023.1"', 'version "2023.9"'), encoding="utf-8"
    )
    code, out, err = run(capsys, str(other), str(CASE), "--format", "json")
    assert 0 == code
    assert "2023.9" == json.loads(out)["ruleset"]["version"]
    assert "note: evaluating with khoi3@2023.9" in err


def test_no_ruleset_anywhere_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a RULESET argument and without a "ruleset" field in the case, exit 2 saying what is missing."""
    data = case_data()
    del data["ruleset"]
    code, _, err = run(capsys, write_case(tmp_path, data))
    assert 2 == code
    assert "no RULESET given" in err


def test_progress_line_only_for_long_runs() -> None:
    """The terminal progress line stays silent until a report after the start, and is cleared at the end."""
    import io

    from service.commands.evaluate import _Progress

    quiet = io.StringIO()
    p = _Progress(quiet)
    p("score", 0, 6)
    p.clear()
    assert "" == quiet.getvalue()
    loud = io.StringIO()
    p = _Progress(loud)
    p("score", 0, 5000)
    p("score", 1000, 5000)
    p.clear()
    assert "\rscore: 1,000/5,000\x1b[K\r\x1b[K" == loud.getvalue()


def test_case_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case file that is not UTF-8 text is a clear error (exit 1), not a traceback."""
    bad = tmp_path / "latin.json"
    bad.write_bytes(b'\xff\xfe{"members": []}')
    code, _, err = run(capsys, str(RULES), str(bad))
    assert 1 == code
    assert "not UTF-8" in err
