"""What the service does with its database on start: migrate, then import the rulesets folder.

`open_store` is called once by ``thidua serve`` before any worker starts, so
that workers find the schema ready and never race to create it. It leaves no
pooled connection open: forked workers must not share the parent's sockets,
and the pool refills in each worker on first use.

The import compiles every new or changed ruleset file, which takes seconds.
The folder itself is served directly (the database only mirrors it), so a
single-process server imports in a background thread and starts answering at
once; with several workers the import runs before the fork (a thread would not
survive it, and each worker importing again would repeat the work).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from service.db.errors import UnavailableError
from service.db.importer import import_rulesets
from service.db.repository import Store


def import_and_log(store: Store, rulesets: str | os.PathLike[str], log: Any) -> None:
    """Import the folder and log the outcome (failures as warnings, never fatal)."""
    try:
        report = import_rulesets(store, rulesets)
    except UnavailableError as exc:
        log.warning("rulesets not imported: database unavailable", error=exc.message)
        return
    # Debug: the "serving" event names the database; this detail is for troubleshooting.
    log.debug("rulesets imported", published=report.published, unchanged=len(report.unchanged))
    for ref, reason in report.failed.items():
        log.warning("ruleset not imported", ruleset=ref, reason=reason)


def open_store(
    url: str | None, rulesets: str | os.PathLike[str], log: Any, *, background_import: bool = False
) -> Store:
    """A migrated `Store`; the folder's rulesets imported now, or by a background thread.

    Raises `UnavailableError`/`DatabaseConfigError` when the database cannot be
    used at all (the service does not start without its database).
    """
    store = Store(url)
    try:
        store.migrate()
        if not background_import:
            import_and_log(store, rulesets, log)
    finally:
        store.close()
    if background_import:
        threading.Thread(
            target=import_and_log, args=(store, rulesets, log), name="thidua-import", daemon=True
        ).start()
    return store
