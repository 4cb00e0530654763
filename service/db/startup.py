"""What the service does with its database on start: migrate, then import the rulesets folder.

`open_store` is called once by ``thidua serve`` before any worker starts, so
that workers find the schema ready and never race to create it. It leaves no
pooled connection open: forked workers must not share the parent's sockets,
and the pool refills in each worker on first use.
"""

from __future__ import annotations

import os
from typing import Any

from service.db.importer import import_rulesets
from service.db.repository import Store


def open_store(url: str | None, rulesets: str | os.PathLike[str], log: Any) -> Store:
    """A migrated `Store` holding the folder's rulesets; raises `UnavailableError`/`DatabaseConfigError`."""
    store = Store(url)
    try:
        store.migrate()
        report = import_rulesets(store, rulesets)
    finally:
        store.close()
    # Debug: the "serving" event names the database; this detail is for troubleshooting.
    log.debug(
        "database ready",
        database=store.url,
        revision=store.schema_revision(),
        published=report.published,
        unchanged=len(report.unchanged),
    )
    for ref, reason in report.failed.items():
        log.warning("ruleset not imported", ruleset=ref, reason=reason)
    store.close()
    return store
