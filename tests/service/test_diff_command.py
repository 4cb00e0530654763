"""`thidua diff`: formats, --fail-on exit codes, corpora and errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
CASE = RULESETS / "khoi3" / "cases" / "2023.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["diff", *argv, "--rulesets", str(RULESETS)])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_by_registry_reference(capsys: pytest.CaptureFixture[str]) -> None:
    """NAME@VERSION references work; the table has the summary, notes, rule changes and the case."""
    code, out, _ = run(capsys, "khoi3@2023.1", "khoi3@2024.1", str(CASE))
    assert 0 == code
    for part in ("Summary", "Notes", "Rule changes", "~ title tien_tien", f"Case {CASE}", "ubkt"):
        assert part in out


@pytest.mark.parametrize(("fail_on", "code"), [("any", 1), ("level", 1), ("title", 1)])
def test_fail_on_sets_exit_code(capsys: pytest.CaptureFixture[str], fail_on: str, code: int) -> None:
    """--fail-on any|level|title exits 1 when such a change exists."""
    assert code == run(capsys, "khoi3@2023.1", "khoi3@2024.1", str(CASE), "--fail-on", fail_on)[0]


def test_fail_on_without_changes_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """A version against itself meets no --fail-on condition: exit 0."""
    path = str(RULESETS / "khoi3" / "2023.1.rules")
    assert 0 == run(capsys, path, "khoi3@2023.1", str(CASE), "--fail-on", "any")[0]


def test_json_over_a_jsonl_corpus_with_two_jobs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A .jsonl corpus is diffed by two workers; the JSON lists each case in input order."""
    line = json.dumps(json.loads(CASE.read_text("utf-8")), ensure_ascii=False)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join([line] * 40) + "\n", "utf-8")  # more than one chunk: workers start
    code, out, _ = run(capsys, "khoi3@2023.1", "khoi3@latest", str(corpus), "--format", "json", "--jobs", "2")
    assert 0 == code
    data = json.loads(out)
    assert [f"{corpus}:{i}" for i in range(1, 41)] == [c["case"] for c in data["cases"]]
    assert 240 == data["summary"]["units_changed"]


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    """Markdown has a heading, the summary and a GitHub table per case."""
    code, out, _ = run(capsys, "khoi3@2023.1", "khoi3@2024.1", str(CASE), "--format", "markdown")
    assert 0 == code
    assert out.startswith("## Ruleset diff: khoi3 2023.1 → khoi3 2024.1")
    assert "| unit | score | level | rank | titles | criteria moved |" in out


def test_no_cases_gives_rule_changes_only(capsys: pytest.CaptureFixture[str]) -> None:
    """Without cases, the command lists the rule changes and zero cases."""
    code, out, _ = run(capsys, "khoi3@2023.1", "khoi3@2024.1")
    assert 0 == code
    assert "cases: 0 (0 changed)" in out
    assert "+ criterion digital" in out


def test_unknown_ruleset_and_missing_case_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown version or a missing case file is a one-line error with exit 2."""
    code, _, err = run(capsys, "khoi3@1999.1", "khoi3@2024.1", str(CASE))
    assert 2 == code
    assert "has no version '1999.1'" in err
    code, _, err = run(capsys, "khoi3@2023.1", "khoi3@2024.1", "nowhere.json")
    assert 2 == code
    assert "no such case file or folder: nowhere.json" in err


def test_broken_case_is_reported_not_fatal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A case that is not valid JSON is an error line in the diff; the run still succeeds."""
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", "utf-8")
    code, out, _ = run(capsys, "khoi3@2023.1", "khoi3@2024.1", str(bad), str(CASE))
    assert 0 == code
    assert "error: both versions:" in out
    assert "cases: 2" in out


def test_env_var_names_the_registry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """THIDUA_RULESETS is used when --rulesets is not given."""
    monkeypatch.setenv("THIDUA_RULESETS", os.fspath(RULESETS))
    monkeypatch.chdir("/")
    code = cli.main(["diff", "khoi3@2023.1", "khoi3@2024.1"])
    capsys.readouterr()
    assert 0 == code


def test_as_of_applies_to_a_bare_name(capsys: pytest.CaptureFixture[str]) -> None:
    """--as-of picks the version of a bare NAME; an explicit version beside it keeps its own."""
    code, out, _ = run(
        capsys, "khoi3@2023.1", "khoi3", str(CASE), "--as-of", "2024-06-01", "--fail-on", "any"
    )
    assert 1 == code
    assert out.startswith("Diff khoi3 2023.1 → khoi3 2024.1")
    code, out, _ = run(
        capsys, "khoi3@2023.1", "khoi3", str(CASE), "--as-of", "2023-06-01", "--fail-on", "any"
    )
    assert 0 == code
    assert out.startswith("Diff khoi3 2023.1 → khoi3 2023.1")


def test_progress_line() -> None:
    """The progress line counts cases and units and is cleared at the end."""
    import io

    from service.commands.diff import Progress

    out = io.StringIO()
    progress = Progress(out)
    progress.tick(6)
    progress.tick(4)
    progress.done()
    text = out.getvalue()
    assert "\r  1 cases, 6 units" in text
    assert text.endswith("\r\033[K")
