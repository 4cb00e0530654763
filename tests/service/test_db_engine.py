"""service.db.engine: which database a URL names, and how SQLite connections are set up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.db import DatabaseConfigError, Store
from service.db.engine import ENV_DATABASE_URL, create_engine, redact, resolve_url, writer


def test_explicit_url_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit URL is used even when THIDUA_DATABASE_URL is set."""
    monkeypatch.setenv(ENV_DATABASE_URL, "sqlite:///from-env.db")
    assert "sqlite:///explicit.db" == str(resolve_url("sqlite:///explicit.db"))


def test_environment_url_is_used_without_an_explicit_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """THIDUA_DATABASE_URL names the database when no URL is given."""
    monkeypatch.setenv(ENV_DATABASE_URL, "sqlite:///from-env.db")
    assert "sqlite:///from-env.db" == str(resolve_url())


def test_default_is_the_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any URL the database is var/thidua.db relative to the current directory."""
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert "sqlite:///var/thidua.db" == str(resolve_url())


@pytest.mark.parametrize(
    "given",
    ["postgresql://u@db:5432/thidua", "postgres://u@db:5432/thidua", "postgresql+psycopg://u@db:5432/thidua"],
)
def test_postgresql_urls_use_psycopg_3(given: str) -> None:
    """Plain PostgreSQL URLs are routed to the psycopg 3 driver."""
    assert "postgresql+psycopg://u@db:5432/thidua" == str(resolve_url(given))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://u@db/thidua", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@db/thidua", "unsupported PostgreSQL driver 'psycopg2'"),
        ("not a url", "invalid database URL"),
    ],
)
def test_unusable_urls_are_named_in_the_error(given: str, message: str) -> None:
    """A URL thidua cannot use raises DatabaseConfigError saying why."""
    with pytest.raises(DatabaseConfigError, match=message):
        resolve_url(given)


def test_redact_hides_the_password() -> None:
    """Passwords never appear in logged URLs."""
    assert "postgresql+psycopg://u:***@db/thidua" == redact(resolve_url("postgresql://u:secret@db/thidua"))


def test_store_without_url_creates_var_thidua_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store() with no configuration creates var/ and the SQLite file in the current directory."""
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store()
    store.migrate()
    store.close()
    assert True is (tmp_path / "var" / "thidua.db").is_file()


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_url: str) -> None:
    """Every SQLite connection runs in WAL mode with foreign keys enforced."""
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        assert "wal" == connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert 1 == connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    engine.dispose()


def test_sqlite_readers_are_not_blocked_by_an_open_writer(sqlite_url: str) -> None:
    """While a write transaction holds the lock, another connection still reads (WAL)."""
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    seen: list[int] = []
    with writer(engine).begin() as held:
        held.exec_driver_sql("INSERT INTO t VALUES (2)")

        def read() -> None:
            with engine.connect() as reader:
                seen.append(reader.execute(sa.text("SELECT count(*) FROM t")).scalar_one())

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=10)
    assert [1] == seen
    engine.dispose()
