"""service.commands.fmt: `thidua fmt [--check] FILE…` rewrites in place, checks, reads stdin, never loses data."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dsl import format as format_module
from service import cli

MESSY = 'ruleset r version "1" {   # kept\n  ranking by score\n  input a:int "A"\n}'
CANONICAL = 'ruleset r version "1" {  # kept\n  ranking by score desc\n\n  input a: int  "A"\n}\n'


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A ruleset file that is not in canonical layout."""
    path = tmp_path / "r.rules"
    path.write_text(MESSY, encoding="utf-8")
    return path


def test_rewrites_the_file_in_place(messy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`thidua fmt FILE` writes the canonical layout with a trailing newline and says so on stderr."""
    assert 0 == cli.main(["fmt", str(messy)])
    assert CANONICAL == messy.read_text(encoding="utf-8")
    assert f"reformatted {messy}\n" == capsys.readouterr().err


def test_a_formatted_file_is_left_alone(messy: Path) -> None:
    """A second run changes nothing (same bytes, same modification time)."""
    cli.main(["fmt", str(messy)])
    before = messy.stat().st_mtime_ns
    assert 0 == cli.main(["fmt", str(messy)])
    assert before == messy.stat().st_mtime_ns
    assert CANONICAL == messy.read_text(encoding="utf-8")


def test_check_reports_the_diff_and_changes_nothing(messy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--check` prints the file that would change and a unified diff, exits 1, leaves the file."""
    assert 1 == cli.main(["fmt", "--check", str(messy)])
    out = capsys.readouterr().out
    assert out.startswith(f"would reformat {messy}\n--- {messy} (original)\n+++ {messy} (formatted)\n")
    assert "\n-  ranking by score\n" in out
    assert "\n+  ranking by score desc\n" in out
    assert "\n-}\n\\ No newline at end of file\n" in out
    assert out.endswith("\n+}\n")
    assert MESSY == messy.read_text(encoding="utf-8")


def test_check_passes_on_formatted_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--check` on canonical files prints nothing and exits 0."""
    path = tmp_path / "ok.rules"
    path.write_text(CANONICAL, encoding="utf-8")
    assert 0 == cli.main(["fmt", "--check", str(path)])
    assert ("", "") == tuple(capsys.readouterr())


def test_syntax_error_is_rendered_and_the_file_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that does not parse gets the rendered diagnostic with its caret, exit 1, no write."""
    path = tmp_path / "bad.rules"
    text = 'ruleset r version "1" {\n  group g "Điểm" max {\n  }\n}\n'
    path.write_text(text, encoding="utf-8")
    assert 1 == cli.main(["fmt", str(path)])
    err = capsys.readouterr().err
    assert f"{path}:2:22: error: expected a number after `max`, found `{{`" == err.split("\n")[0]
    assert "^" == err.split("\n")[2].strip()
    assert "Traceback" not in err
    assert text == path.read_text(encoding="utf-8")


def test_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`-` reads the ruleset from stdin and writes the formatted text to stdout."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode("utf-8"))))
    assert 0 == cli.main(["fmt", "-"])
    assert CANONICAL == capsys.readouterr().out


def test_every_file_is_processed_after_an_error(
    messy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file (exit 2) does not stop the others from being formatted."""
    missing = tmp_path / "missing.rules"
    assert 2 == cli.main(["fmt", str(missing), str(messy)])
    assert CANONICAL == messy.read_text(encoding="utf-8")
    assert f"thidua fmt: {missing}: No such file or directory" in capsys.readouterr().err


def test_internal_error_writes_nothing(
    messy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """If the formatted text would parse to another tree, the file is left as it was, exit 1."""
    monkeypatch.setattr(format_module, "format_source", lambda sf: 'ruleset r version "2" {\n}\n')
    assert 1 == cli.main(["fmt", str(messy)])
    assert MESSY == messy.read_text(encoding="utf-8")
    assert "internal formatter error" in capsys.readouterr().err


def test_permissions_are_kept_and_no_temporary_file_remains(messy: Path) -> None:
    """The atomic replacement keeps the file's mode and leaves no temporary file behind."""
    os.chmod(messy, 0o640)
    assert 0 == cli.main(["fmt", str(messy)])
    assert 0o640 == stat.S_IMODE(messy.stat().st_mode)
    assert ["r.rules"] == sorted(p.name for p in messy.parent.iterdir())


def test_not_utf8_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not UTF-8 is reported by name, exit 1."""
    path = tmp_path / "latin.rules"
    path.write_bytes(b'ruleset r version "\xe9" {\n}\n')
    assert 1 == cli.main(["fmt", str(path)])
    assert f"thidua fmt: {path}: not UTF-8 text (byte 19)" == capsys.readouterr().err.strip()


def test_crlf_files_become_lf(tmp_path: Path) -> None:
    """Windows line endings are normalized to \\n (the canonical layout)."""
    path = tmp_path / "crlf.rules"
    path.write_bytes(CANONICAL.replace("\n", "\r\n").encode("utf-8"))
    assert 0 == cli.main(["fmt", str(path)])
    assert CANONICAL.encode("utf-8") == path.read_bytes()


def test_a_folder_means_every_rules_file_under_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder argument formats every *.rules file below it, in sorted order, and nothing else."""
    (tmp_path / "khoi3").mkdir()
    first, second = tmp_path / "a.rules", tmp_path / "khoi3" / "2023.1.rules"
    other = tmp_path / "notes.txt"
    for path in (first, second, other):
        path.write_text(MESSY, encoding="utf-8")
    assert 1 == cli.main(["fmt", "--check", str(tmp_path)])
    assert [f"would reformat {first}", f"would reformat {second}"] == [
        line for line in capsys.readouterr().out.split("\n") if line.startswith("would")
    ]
    assert 0 == cli.main(["fmt", str(tmp_path)])
    assert (CANONICAL, CANONICAL, MESSY) == tuple(
        p.read_text(encoding="utf-8") for p in (first, second, other)
    )
