"""Database fixtures for the service tests: every persistence test runs on SQLite and on PostgreSQL.

- ``database_url``: an empty database, once per backend: a fresh SQLite file,
  or a fresh PostgreSQL schema selected through ``search_path`` and dropped
  afterwards. Schema names carry the process id and a random part, so two
  test runs against the same server (CI and a developer) never meet.
- ``store``: a migrated, empty `Store` on each backend (a new SQLite file; on
  PostgreSQL one schema per session, emptied before each test).
- ``sqlite_url`` / ``postgres_url``: one backend only.
- ``throwaway_default_database`` (automatic): ``THIDUA_DATABASE_URL`` points at
  a temporary file for the whole session, so servers started by tests never
  write the developer's ``var/thidua.db``.

PostgreSQL is ``$THIDUA_TEST_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``. When it cannot be
reached the PostgreSQL variants are skipped with a message saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from service.db import Store
from tests.service.tcp_proxy import TcpProxy

DEFAULT_TEST_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def _admin_url() -> str:
    return os.environ.get("THIDUA_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES)


@pytest.fixture(scope="session", autouse=True)
def throwaway_default_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`thidua serve` processes started by tests use a throwaway SQLite file, never var/thidua.db."""
    previous = os.environ.get("THIDUA_DATABASE_URL")
    os.environ["THIDUA_DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('serve-db') / 'thidua.db'}"
    yield
    if previous is None:
        del os.environ["THIDUA_DATABASE_URL"]
    else:
        os.environ["THIDUA_DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine | None]:
    """An engine on the test PostgreSQL database, or None when it is unreachable."""
    engine = sa.create_engine(_admin_url(), connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        yield None
        return
    _drop_orphaned_schemas(engine)
    yield engine
    engine.dispose()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_orphaned_schemas(admin: sa.Engine) -> None:
    """Drop test schemas left by runs that were killed (their process no longer exists on this host)."""
    with admin.connect() as connection:
        names = connection.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'thidua\\_test\\_%'")
        ).scalars()
        orphans = [n for n in names if n.split("_")[2].isdigit() and not _pid_alive(int(n.split("_")[2]))]
    for schema in orphans:
        drop_postgres_schema(admin, schema)


def new_postgres_schema(admin: sa.Engine) -> tuple[str, str]:
    """Create a uniquely named schema; return its name and a URL whose search_path selects it."""
    schema = f"thidua_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(_admin_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


def drop_postgres_schema(admin: sa.Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine | None) -> Iterator[str]:
    """An empty PostgreSQL schema of its own (skipped when PostgreSQL is unreachable)."""
    if postgres_admin is None:
        pytest.skip(f"PostgreSQL not reachable at {make_url(_admin_url()).render_as_string()}")
    schema, url = new_postgres_schema(postgres_admin)
    try:
        yield url
    finally:
        drop_postgres_schema(postgres_admin, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet, in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'var' / 'thidua.db'}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: SQLite, then PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_admin: sa.Engine | None) -> Iterator[str | None]:
    """One PostgreSQL schema migrated once for the session (None when PostgreSQL is unreachable)."""
    if postgres_admin is None:
        yield None
        return
    schema, url = new_postgres_schema(postgres_admin)
    setup = Store(url)
    setup.migrate()
    setup.close()
    try:
        yield url
    finally:
        drop_postgres_schema(postgres_admin, schema)


def _emptied(url: str) -> str:
    # DELETE instead of a new schema and a migration per test (or TRUNCATE, which rewrites files):
    # on a busy server this is ten times cheaper. Children first, for the foreign keys.
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, migrated_postgres_url: str | None) -> Iterator[Store]:
    """A migrated `Store` on an empty database: a new SQLite file, then the emptied session schema."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    elif migrated_postgres_url is None:
        pytest.skip(f"PostgreSQL not reachable at {make_url(_admin_url()).render_as_string()}")
    else:
        url = _emptied(migrated_postgres_url)
    opened = Store(url)
    if request.param == "sqlite":
        opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """A migrated PostgreSQL schema reached through a proxy the test can cut."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    setup = Store(postgres_url)
    setup.migrate()
    setup.close()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()
