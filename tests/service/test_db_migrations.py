"""service.db.migrations: the schema from an empty database, and its agreement with the models."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from service.db import Store, migrations
from service.db.engine import create_engine

TABLES = {
    "alembic_version",
    "bloc",
    "bloc_holder",
    "bloc_member",
    "evaluation",
    "ruleset_version",
    "submission",
}


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_from_empty_creates_every_table(database_url: str) -> None:
    """Migrating an empty database creates all tables and records the head revision."""
    engine = create_engine(database_url)
    assert None is migrations.current(engine)
    migrations.upgrade(engine)
    assert TABLES == _tables(engine)
    assert migrations.head() == migrations.current(engine)
    engine.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    """Upgrading an up-to-date database changes nothing and keeps its data."""
    store = Store(database_url)
    store.migrate()
    store.put_bloc("khoi3", ["a", "b"])
    store.migrate()
    assert ("a", "b") == store.get_bloc("khoi3").members
    assert migrations.head() == store.schema_revision()
    store.close()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """Alembic finds no difference between the migrated schema and the sqlmodel tables."""
    engine = create_engine(database_url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert [] == compare_metadata(context, SQLModel.metadata)
    engine.dispose()


def test_downgrade_to_base_removes_the_tables(database_url: str) -> None:
    """Downgrading to base leaves only Alembic's own bookkeeping table."""
    engine = create_engine(database_url)
    migrations.upgrade(engine)
    migrations.downgrade(engine, "base")
    assert {"alembic_version"} == _tables(engine)
    assert None is migrations.current(engine)
    engine.dispose()


def migrate_in_child(url: str, barrier: Any, results: Any) -> None:
    """Run in a separate process: wait for the others, migrate, report the revision reached."""
    store = Store(url)
    barrier.wait(timeout=60)
    try:
        store.migrate()
        results.put(store.schema_revision())
    finally:
        store.close()


def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    """Three service processes migrating one empty database at once all succeed."""
    context = multiprocessing.get_context("fork")  # see test_db_rulesets: starts in milliseconds
    barrier, results = context.Barrier(3), context.Queue()
    children = [
        context.Process(target=migrate_in_child, args=(database_url, barrier, results)) for _ in range(3)
    ]
    for child in children:
        child.start()
    revisions = [results.get(timeout=90) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert [0, 0, 0] == [child.exitcode for child in children]
    assert [migrations.head()] * 3 == revisions


def test_migrations_in_threads_of_one_process_are_serialized(database_url: str) -> None:
    """Three threads migrating at once (Alembic state is global) all reach the head revision."""

    def migrate() -> str | None:
        store = Store(database_url)
        try:
            store.migrate()
            return store.schema_revision()
        finally:
            store.close()

    with ThreadPoolExecutor(3) as pool:
        revisions = list(pool.map(lambda _: migrate(), range(3)))
    assert [migrations.head()] * 3 == revisions
