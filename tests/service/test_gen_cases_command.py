"""`thidua gen-cases`: destinations, determinism and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["gen-cases", *argv, "--rulesets", str(RULESETS)])
    out, err = capsys.readouterr()
    return code, out, err


def test_stdout_jsonl_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out, one case per line on stdout; the same seed prints the same bytes."""
    code, out, _ = run(capsys, "khoi3@2024.1", "--blocs", "3", "--units", "4", "--seed", "9")
    assert 0 == code
    lines = out.splitlines()
    assert 3 == len(lines)
    assert 4 == len(json.loads(lines[0])["members"])
    assert out == run(capsys, "khoi3@2024.1", "--blocs", "3", "--units", "4", "--seed", "9")[1]


def test_jsonl_file_and_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--out FILE.jsonl writes one line per case; --out DIR one numbered .json per case."""
    jsonl = tmp_path / "c.jsonl"
    assert 0 == run(capsys, "khoi3", "--blocs", "2", "--units", "2", "--out", str(jsonl))[0]
    assert 2 == len(jsonl.read_text("utf-8").splitlines())
    folder = tmp_path / "cases"
    assert 0 == run(capsys, "khoi3", "--blocs", "2", "--units", "2", "--out", str(folder))[0]
    assert ["case-000001.json", "case-000002.json"] == sorted(p.name for p in folder.iterdir())


def test_generated_corpus_feeds_diff(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A generated corpus diffs without case errors."""
    jsonl = tmp_path / "c.jsonl"
    run(capsys, "khoi3@2023.1", "--blocs", "4", "--units", "5", "--out", str(jsonl))
    code = cli.main(
        ["diff", "khoi3@2023.1", "khoi3@2024.1", str(jsonl), "--format", "json", "--rulesets", str(RULESETS)]
    )
    data = json.loads(capsys.readouterr()[0])
    assert 0 == code
    assert 20 == data["summary"]["units"]
    assert {"units": 0, "cases": 0} == data["summary"]["errors"]["old"]


def test_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An unknown ruleset exits 1; zero blocs is a usage error."""
    assert 1 == run(capsys, "nope@1", "--blocs", "1", "--units", "1")[0]
    with pytest.raises(SystemExit):
        run(capsys, "khoi3", "--blocs", "0", "--units", "1")


def test_output_does_not_depend_on_hash_seed(capsys: pytest.CaptureFixture[str]) -> None:
    """Another process with another PYTHONHASHSEED writes the same bytes (corpora are reproducible)."""
    import os
    import subprocess
    import sys

    argv = [
        "gen-cases",
        "khoi3@2024.1",
        "--blocs",
        "2",
        "--units",
        "3",
        "--seed",
        "4",
        "--rulesets",
        str(RULESETS),
    ]
    here = run(capsys, *argv[1:-2])[1]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-m", "service.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout
    assert here == there


def test_absurd_unit_count_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--units beyond the cap exits 2 at once with a message, instead of filling memory with one bloc."""
    code, out, err = run(capsys, "khoi3@2024.1", "--blocs", "1", "--units", "100000000")
    assert (2, "") == (code, out)
    assert "--units 100000000 is more than the 1,000,000" in err
