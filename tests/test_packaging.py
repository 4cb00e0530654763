"""The project installs as documented: grammar shipped as package data, console script, wheel contents."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_grammar_resource_is_found_via_importlib_resources() -> None:
    """The Lark grammar loads through importlib.resources, as the parser loads it."""
    grammar = resources.files("grammar") / "thidua.lark"
    assert grammar.is_file()
    assert grammar.read_text(encoding="utf-8").strip()


def test_console_script_is_installed_and_help_exits_zero() -> None:
    """`thidua --help` runs from the installed console script and exits 0."""
    exe = shutil.which("thidua", path=str(Path(sys.executable).parent))
    assert exe is not None, "the thidua console script is not installed next to the interpreter"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert (0, "") == (result.returncode, result.stderr)
    assert "usage: thidua" in result.stdout


def test_console_script_reports_installed_version() -> None:
    """`thidua --version` prints the version recorded in the installed metadata."""
    exe = shutil.which("thidua", path=str(Path(sys.executable).parent))
    assert exe is not None
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert 0 == result.returncode
    assert f"thidua {metadata.version('thidua')}" == result.stdout.strip()


@pytest.mark.timeout(300)
def test_wheel_ships_grammar_and_entry_point(tmp_path: Path) -> None:
    """A built wheel contains grammar/thidua.lark and declares the thidua console script."""
    # No build isolation: setuptools is already in the locked venv, so this needs no network.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = tmp_path.glob("thidua-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "thidua = service.cli:main" in zf.read(entry_points).decode()
    assert {"grammar/__init__.py", "grammar/thidua.lark", "service/cli.py", "dsl/__init__.py"} <= names
