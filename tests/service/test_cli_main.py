"""service.cli: subcommand discovery and the last-resort error handling of `main`."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import cli

COMMANDS = {
    "zeta": """
        def register(subparsers):
            p = subparsers.add_parser("zeta", help="last in order")
            p.set_defaults(func=lambda args: 0)
    """,
    "alpha": """
        from dsl.errors import ThiduaError

        def register(subparsers):
            p = subparsers.add_parser("alpha", help="first in order")
            p.add_argument("mode")
            p.set_defaults(func=run)

        def run(args):
            if args.mode == "ok":
                print("alpha ok")
                return 0
            if args.mode == "fail":
                raise ThiduaError("ruleset khoi3@9.9 not found")
            if args.mode == "interrupt":
                raise KeyboardInterrupt
            if args.mode == "missing":
                open("/nonexistent/thidua/file.rules")
            return 7
    """,
    "helper": """
        VALUE = 1  # no register(): imported, not a command
    """,
}


@pytest.fixture
def fake_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway commands package with two commands and one helper module."""
    package = tmp_path / "fake_thidua_commands"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, body in COMMANDS.items():
        (package / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMANDS_PACKAGE", "fake_thidua_commands")
    monkeypatch.setattr(cli.build_parser, "__defaults__", ("fake_thidua_commands",))
    yield "fake_thidua_commands"
    for name in [m for m in sys.modules if m.startswith("fake_thidua_commands")]:
        del sys.modules[name]


def test_subcommands_are_discovered_in_sorted_order(fake_commands: str) -> None:
    """Every module defining register() becomes a subcommand, listed in sorted name order."""
    help_text = cli.build_parser(fake_commands).format_help()
    assert "helper" not in help_text
    assert help_text.index("alpha") < help_text.index("zeta")


def test_handler_exit_code_is_returned(fake_commands: str, capsys: pytest.CaptureFixture[str]) -> None:
    """main returns what the subcommand's handler returns."""
    assert 0 == cli.main(["alpha", "ok"])
    assert "alpha ok\n" == capsys.readouterr().out
    assert 7 == cli.main(["alpha", "other"])


def test_thidua_error_becomes_one_line_and_exit_2(
    fake_commands: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ThiduaError escaping a command prints `thidua: <message>` to stderr, exit 2, no traceback."""
    assert 2 == cli.main(["alpha", "fail"])
    assert "thidua: ruleset khoi3@9.9 not found\n" == capsys.readouterr().err


def test_missing_file_is_reported_without_traceback(
    fake_commands: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreadable file named by the user is one line on stderr with exit 2."""
    assert 2 == cli.main(["alpha", "missing"])
    err = capsys.readouterr().err
    assert "thidua: No such file or directory: /nonexistent/thidua/file.rules\n" == err


def test_keyboard_interrupt_exits_130(fake_commands: str) -> None:
    """Ctrl-C during a command exits 130 quietly."""
    assert 130 == cli.main(["alpha", "interrupt"])


def test_no_command_prints_help_and_exits_2(fake_commands: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Running `thidua` with no subcommand shows the usage on stderr and exits 2."""
    assert 2 == cli.main([])
    assert "usage: thidua" in capsys.readouterr().err


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` prints the program name and version and exits 0."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert 0 == exited.value.code
    assert capsys.readouterr().out.startswith("thidua ")
