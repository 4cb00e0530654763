"""service.commands.check: `thidua check` output, JSON shape and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "khoi3-2023.1.rules"

BROKEN = """ruleset r version "1" {
  input targets_met: int >= 0
  input targets_assigned: int
  let rate = targets_mett / targets_assigned
}
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.rules"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_clean_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """The reference ruleset checks clean: exit 0, nothing on stdout, a zero summary."""
    assert 0 == cli.main(["check", str(FIXTURE)])
    out, err = capsys.readouterr()
    assert "" == out
    assert "0 errors, 0 warnings in 1 file\n" == err


def test_errors_render_with_caret_and_exit_one(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown name renders as SPEC §1.10 shows, warnings too, and the exit status is 1."""
    assert 1 == cli.main(["check", str(broken)])
    out, err = capsys.readouterr()
    expected_error = (
        f"{broken}:4:14: error: unknown name 'targets_mett'; did you mean 'targets_met'?\n"
        "      let rate = targets_mett / targets_assigned\n"
        "                 ^^^^^^^^^^^^\n"
    )
    assert expected_error in out
    assert f"{broken}:4:29: warning: division by 'targets_assigned'" in out
    assert "1 error, 1 warning in 1 file\n" == err


def test_warnings_only_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file with warnings and no error exits 0."""
    path = tmp_path / "warn.rules"
    path.write_text('ruleset r version "1" {\n  input a: int\n  let b = 1 / a\n}\n', encoding="utf-8")
    assert 0 == cli.main(["check", str(path)])
    assert "0 errors, 1 warning in 1 file\n" == capsys.readouterr().err


def test_json_format(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json prints files, diagnostics as dicts and the totals."""
    assert 1 == cli.main(["check", "--format", "json", str(broken), str(FIXTURE)])
    doc = json.loads(capsys.readouterr().out)
    assert [str(broken), str(FIXTURE)] == [f["path"] for f in doc["files"]]
    assert 1 == doc["errors"]
    assert 1 == doc["warnings"]
    first = doc["files"][0]["diagnostics"][0]
    assert {
        "file": str(broken),
        "line": 4,
        "column": 14,
        "end_line": 4,
        "end_column": 26,
        "severity": "error",
        "code": "unknown-name",
        "message": "unknown name 'targets_mett'",
        "hint": "did you mean 'targets_met'?",
    } == first


def test_missing_file_exits_two_and_checks_the_others(
    tmp_path: Path, broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that cannot be read is a clear error (exit 2); the other files are still checked."""
    missing = tmp_path / "nope.rules"
    assert 2 == cli.main(["check", str(missing), str(broken)])
    out, err = capsys.readouterr()
    assert f"thidua check: cannot read {missing}: No such file or directory" in err
    assert "unknown name 'targets_mett'" in out


def test_syntax_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A syntax error is one diagnostic with a caret, exit 1."""
    path = tmp_path / "syntax.rules"
    path.write_text('ruleset r version "1" {\n  let = 3\n}\n', encoding="utf-8")
    assert 1 == cli.main(["check", str(path)])
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:2:7: error: expected a name after `let`, found `=`")


def test_extends_resolves_parent_beside_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A child ruleset is checked after resolving its parent found beside it; inherited names resolve."""
    (tmp_path / "base").mkdir()
    (tmp_path / "child").mkdir()
    (tmp_path / "base" / "1.rules").write_text(
        'ruleset base version "1" {\n  input a: int >= 1\n  let b = 10 / a\n}\n', encoding="utf-8"
    )
    child = tmp_path / "child" / "1.rules"
    child.write_text(
        'ruleset child version "1" extends base version "1" {\n  let c = b + a + d\n}\n', encoding="utf-8"
    )
    assert 1 == cli.main(["check", str(child), "--rulesets-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{child}:2:19: error: unknown name 'd'" in out
    assert "'b'" not in out


def test_extends_with_missing_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A parent that cannot be found is one error on the `extends` clause."""
    child = tmp_path / "child.rules"
    child.write_text('ruleset child version "1" extends nothere version "1" {\n}\n', encoding="utf-8")
    assert 1 == cli.main(["check", str(child), "--rulesets-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{child}:1:27: error: cannot find parent ruleset nothere" in out


def test_tests_only_file_is_checked_against_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of tests `for` a registry ruleset is checked against it; a test naming no ruleset is an error."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "1.rules").write_text(
        'ruleset base version "1" {\n  input a: int >= 1\n}\n', encoding="utf-8"
    )
    tests = tmp_path / "tests.rules"
    tests.write_text(
        'test "ok" for base version "1" {\n  given { a = 2 }\n  expect score == 0\n}\n'
        'test "typo" for base version "1" {\n  given { aa = 2 }\n}\n'
        'test "nowhere" for other version "9" {\n  given { a = 1 }\n}\n'
        'test "lost" {\n  given { a = 1 }\n}\n',
        encoding="utf-8",
    )
    assert 1 == cli.main(["check", str(tests), "--rulesets-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{tests}:6:11: error: unknown input 'aa'; did you mean 'a'?" in out
    assert f"{tests}:5:1: error: test \"typo\" gives no value for input 'a', which has no default" in out
    assert f'{tests}:11:1: error: test "lost" is outside a ruleset and names none' in out
    assert f'{tests}:8:1: error: cannot check test "nowhere" against other 9' in out
    assert 4 == out.count(": error: ")
    lines = [int(line.split(":")[1]) for line in out.splitlines() if ": error: " in line]
    assert sorted(lines) == lines


def test_folder_checks_every_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder argument checks every .rules file under it, in sorted order."""
    (tmp_path / "b").mkdir()
    (tmp_path / "a.rules").write_text('ruleset a version "1" {\n  let x = y\n}\n', encoding="utf-8")
    (tmp_path / "b" / "c.rules").write_text('ruleset c version "1" {\n  let x = z\n}\n', encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a ruleset", encoding="utf-8")
    assert 1 == cli.main(["check", str(tmp_path)])
    out, err = capsys.readouterr()
    assert [f"{tmp_path / 'a.rules'}:2:11", f"{tmp_path / 'b' / 'c.rules'}:2:11"] == [
        line.split(": error")[0] for line in out.splitlines() if ": error" in line
    ]
    assert "2 errors, 0 warnings in 2 files\n" == err


def test_registry_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NAME@VERSION and NAME (latest) check the registry's file; an unknown version exits 2."""
    (tmp_path / "base").mkdir()
    for version in ("1", "2"):
        (tmp_path / "base" / f"{version}.rules").write_text(
            f'ruleset base version "{version}" {{\n  let x = y{version}\n}}\n', encoding="utf-8"
        )
    assert 1 == cli.main(["check", "base@1", "base", "--rulesets-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "unknown name 'y1'" in out
    assert "unknown name 'y2'" in out
    assert 2 == cli.main(["check", "base@3", "--rulesets-dir", str(tmp_path)])
    assert "thidua check: no ruleset base@3 in" in capsys.readouterr().err
