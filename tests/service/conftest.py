"""Database fixtures for the service tests: every persistence test runs on SQLite and on PostgreSQL.

- ``database_url``: an empty database, once per backend: a fresh SQLite file,
  or a fresh PostgreSQL schema selected through ``search_path`` and dropped
  afterwards. Schema names carry the process id and a random part, so two
  test runs against the same server (CI and a developer) never meet.
- ``store``: a migrated `Store` on ``database_url``.
- ``sqlite_url`` / ``postgres_url``: one backend only.

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

from service.db import Store

DEFAULT_TEST_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def _admin_url() -> str:
    return os.environ.get("THIDUA_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES)


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
    yield engine
    engine.dispose()


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


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated `Store` on an empty database of each backend."""
    opened = Store(database_url)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()
