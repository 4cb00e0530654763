"""`thidua diff --jobs N`: worker processes change nothing in the output, whatever the format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
CASE: dict[str, Any] = json.loads((RULESETS / "khoi3" / "cases" / "2023.json").read_text("utf-8"))


def _corpus(tmp_path: Path) -> Path:
    """40 cases: changed ones, unit errors, case errors (bad JSON, not a bloc) and ignored inputs."""
    lines = []
    for i in range(40):
        data = copy.deepcopy(CASE)
        data["period"] = f"p{i}"
        data["submissions"][0]["inputs"]["key_tasks_excellent"] = i % 9
        if i % 5 == 1:
            data["submissions"][2]["inputs"]["initiatives"] = -1  # a unit error under 2023.1 only
        if i % 7 == 2:
            data["submissions"][1]["inputs"]["not_declared"] = 1  # ignored by both versions
        if i % 11 == 0:
            lines.append("{not json")
            continue
        if i % 13 == 2:
            lines.append(json.dumps({"submissions": []}))
            continue
        lines.append(json.dumps(data, ensure_ascii=False))
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _diff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(["diff", "khoi3@2023.1", "khoi3@2024.1", *argv, "--rulesets", str(RULESETS)])
    out, _ = capsys.readouterr()
    return code, out


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_one_and_two_jobs_give_identical_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """jobs=1 and jobs=2 print byte-identical reports (errors, notes, a detail cut mid-case) and exit codes."""
    corpus = _corpus(tmp_path)
    argv = [str(corpus), "--format", fmt, "--max-units", "13", "--fail-on", "level"]
    one = _diff(capsys, *argv, "--jobs", "1")
    two = _diff(capsys, *argv, "--jobs", "2")
    assert one == two
    code, out = two
    assert 1 == code
    if fmt == "json":
        data = json.loads(out)
        assert 40 == len(data["cases"])
        assert {"units": 7, "cases": 7} == data["summary"]["errors"]["old"]
        assert {"units": 0, "cases": 7} == data["summary"]["errors"]["new"]
        assert any("not_declared" in note for note in data["notes"])
    else:
        assert "not valid JSON" in out
        assert "tccb under khoi3 2023.1: inputs.initiatives: must be >= 0, got -1" in out
        assert "input 'not_declared' is not declared by khoi3 2023.1" in out
        assert "more changed units in" in out
