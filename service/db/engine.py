"""Database URLs and engines: which database, and how each kind is connected.

This module owns the choice of database (an explicit URL, else
``THIDUA_DATABASE_URL``, else the SQLite file ``var/thidua.db`` created with
its folder) and the per-database connection settings:

- SQLite: WAL journal (readers never wait for the writer), foreign keys on,
  a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so that two
  writers queue for the lock instead of failing when one upgrades a read
  snapshot to a write (SQLite's SQLITE_BUSY_SNAPSHOT).
- PostgreSQL (psycopg 3): a small pool with pre-ping, a connect timeout so an
  unreachable server is reported quickly, and ``postgres://`` or
  ``postgresql://`` URLs routed to the psycopg driver.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from service.db.errors import DatabaseConfigError

ENV_DATABASE_URL = "THIDUA_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path("var") / "thidua.db"

#: Seconds a connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT_S = 5
#: Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30

#: Execution option read by the SQLite ``begin`` hook: "DEFERRED" or "IMMEDIATE".
SQLITE_BEGIN_OPTION = "thidua_sqlite_begin"


def default_url() -> str:
    """The SQLite file under ``var/`` of the current directory."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"


def resolve_url(url: str | None = None) -> URL:
    """The database URL to use: ``url``, else ``$THIDUA_DATABASE_URL``, else the default file.

    Plain ``postgresql://``/``postgres://`` URLs get the psycopg 3 driver; any
    other driver or database is a `DatabaseConfigError`.
    """
    text = url or os.environ.get(ENV_DATABASE_URL) or default_url()
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"invalid database URL {text!r}: {exc}") from None
    # Read the driver from the text: `URL.get_driver_name` would load a dialect that may not exist.
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if not driver:
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif driver != "psycopg":
            raise DatabaseConfigError(
                f"unsupported PostgreSQL driver {driver!r} in {redact(parsed)}; use postgresql+psycopg://"
            )
        return parsed
    if backend == "sqlite":
        if driver not in ("pysqlite", ""):
            raise DatabaseConfigError(f"unsupported SQLite driver {driver!r}; use sqlite:///PATH")
        return parsed
    raise DatabaseConfigError(
        f"unsupported database {backend!r} in {redact(parsed)}; use sqlite:///PATH or postgresql+psycopg://…"
    )


def redact(url: URL) -> str:
    """The URL as text with its password hidden (for logs and error messages)."""
    return url.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(url: str | URL | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (resolved as `resolve_url` does) with thidua's connection settings."""
    resolved = url if isinstance(url, URL) else resolve_url(url)
    if is_sqlite(resolved):
        return _sqlite_engine(resolved, echo=echo)
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return sa.create_engine(
        resolved,
        echo=echo,
        connect_args=connect_args,
        pool_size=5,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_S,
        pool_pre_ping=True,
        # A connection older than this is replaced: servers and proxies drop idle ones.
        pool_recycle=1800,
    )


def _enable_wal(cursor: Any) -> None:
    """Switch a file database to WAL, retrying while another process holds the lock.

    The switch needs an exclusive lock, and SQLite may answer "database is
    locked" at once instead of waiting (its busy handler is not used there),
    e.g. when several service processes open a new database together. WAL is
    kept in the file, so the first process to succeed settles it for all.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    path = _sqlite_file(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseConfigError(f"cannot create the folder of {path}: {exc.strerror}") from None
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}}
    if path is None:
        # An in-memory database exists once per connection: share one connection.
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so `_on_begin` decides how BEGIN reads.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if path is not None:
                _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            # WAL keeps commits durable across a process crash with NORMAL; FULL adds
            # protection only against power loss, at a large cost per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) for write transactions: SQLite begins them IMMEDIATE."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    return engine
