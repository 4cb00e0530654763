"""Alembic's entry point: runs the migrations on the connection `alembic_config` supplied.

Two service processes starting at once must not both create the tables: on
PostgreSQL the migration holds a transaction-scoped advisory lock; on SQLite
the write transaction (BEGIN IMMEDIATE, see `service.db.engine`) serializes them.
Within one process `service.db.migrations` runs one migration at a time,
because Alembic's ``context`` is a module-level global.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

from service.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from service.db.engine import SQLITE_BEGIN_OPTION

#: Identifies thidua's migration lock among PostgreSQL advisory locks ("thid"); the second key is
#: the schema, so databases in different schemas of one server migrate independently.
MIGRATION_LOCK_CLASS = 0x74686964
#: A migration stuck behind another for longer than this fails instead of waiting forever.
MIGRATION_LOCK_TIMEOUT = "60s"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through service.db.migrations.upgrade(), not the alembic CLI")
    if connection.dialect.name == "sqlite":
        connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"))
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"),
                {"cls": MIGRATION_LOCK_CLASS},
            )
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
