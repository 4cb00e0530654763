"""service.commands.db: `thidua db upgrade`, `thidua db current`, `thidua db import`."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli
from service.db import Store, migrations

BUNDLED = Path(__file__).resolve().parents[2] / "rulesets"


def test_upgrade_then_current(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`db upgrade` migrates an empty database once; `db current` then reports the newest revision."""
    assert 0 == cli.main(["db", "upgrade", "--database-url", database_url])
    assert f"upgraded from an empty database to revision {migrations.head()}" in capsys.readouterr().out
    assert 0 == cli.main(["db", "upgrade", "--database-url", database_url])
    assert "already at revision" in capsys.readouterr().out
    assert 0 == cli.main(["db", "current", "--database-url", database_url])
    assert f"revision {migrations.head()} (newest)" in capsys.readouterr().out


def test_current_of_an_empty_database_fails(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`db current` on a database never migrated says so and exits 1."""
    assert 1 == cli.main(["db", "current", "--database-url", sqlite_url])
    assert "not migrated (run `thidua db upgrade`)" in capsys.readouterr().out


def test_database_url_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --database-url the command uses THIDUA_DATABASE_URL."""
    monkeypatch.setenv("THIDUA_DATABASE_URL", sqlite_url)
    assert 0 == cli.main(["db", "upgrade"])
    assert sqlite_url in capsys.readouterr().out


def test_import_publishes_the_folder(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`db import` migrates, publishes the bundled rulesets, and a second run changes nothing."""
    assert 0 == cli.main(["db", "import", "--database-url", sqlite_url, "--rulesets", str(BUNDLED)])
    assert "2 published, 0 unchanged" in capsys.readouterr().out
    assert 0 == cli.main(["db", "import", "--database-url", sqlite_url, "--rulesets", str(BUNDLED)])
    assert "0 published, 2 unchanged" in capsys.readouterr().out
    store = Store(sqlite_url)
    assert ["2023.1", "2024.1"] == [r.version for r in store.list_rulesets("khoi3")]
    store.close()


def test_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable PostgreSQL is reported on one stderr line with exit status 2, no traceback."""
    url = "postgresql://postgres@127.0.0.1:1/test"
    assert 2 == cli.main(["db", "upgrade", "--database-url", url])
    err = capsys.readouterr().err
    assert 1 == len(err.strip().splitlines())
    assert err.startswith("thidua: database postgresql+psycopg://postgres@127.0.0.1:1/test unavailable:")


def test_unsupported_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A URL for an unsupported database is named in a one-line error, exit status 2."""
    assert 2 == cli.main(["db", "current", "--database-url", "mysql://u@h/db"])
    assert "unsupported database 'mysql'" in capsys.readouterr().err
