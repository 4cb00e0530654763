"""Alembic migrations, run from code so that they work from an installed wheel.

This package owns the schema's history (``versions/``) and the two operations
on it the service and ``thidua db`` need: bring a database to the newest
schema (`upgrade`) and tell which revision a database is at (`current`). The
Alembic `Config` is built here from the package's own path, so no
``alembic.ini`` is needed and the working directory does not matter.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Alembic keeps the running migration in module globals (`alembic.context`): two threads
# migrating at once would run each other's statements on the wrong connection and deadlock.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration over this package; ``connection`` is the database to act on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py reads the connection from here instead of from an ini file's URL.
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    script = ScriptDirectory.from_config(alembic_config())
    revision = script.get_current_head()
    assert revision is not None, "the migrations package has no revision"
    return revision


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database of ``engine`` to ``revision`` (default: the newest), in one transaction."""
    with _ALEMBIC_LOCK, engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the database of ``engine`` back to ``revision`` (``base`` = empty)."""
    with _ALEMBIC_LOCK, engine.connect() as connection:
        command.downgrade(alembic_config(connection), revision)
        connection.commit()


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
