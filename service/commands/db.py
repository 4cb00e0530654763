"""``thidua db``: the database's schema and contents from the command line.

- ``thidua db upgrade`` migrates the database to the newest schema (the
  service also does this on start);
- ``thidua db current`` prints the schema revision the database is at;
- ``thidua db import [--rulesets DIR]`` publishes the folder's rulesets that
  the database does not hold yet (what the service does on start);
- ``thidua db verify [ID…]`` re-runs recorded evaluations with the stored
  ruleset their SHA-256 names and says whether each result is the same
  (exit 1 if any differs).

``--database-url`` (else ``THIDUA_DATABASE_URL``, else ``sqlite:///var/thidua.db``)
picks the database. Errors are one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded by the handlers only: SQLAlchemy takes a second to import
    from service.db import Store

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "db", help="migrate the database, show its schema revision, import rulesets"
    )
    actions = parser.add_subparsers(title="actions", dest="db_action", metavar="ACTION", required=True)
    url_help = "database URL (default: $THIDUA_DATABASE_URL, else sqlite:///var/thidua.db)"

    upgrade = actions.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade.add_argument("--database-url", metavar="URL", help=url_help)
    upgrade.set_defaults(func=run_upgrade)

    current = actions.add_parser("current", help="print the schema revision of the database")
    current.add_argument("--database-url", metavar="URL", help=url_help)
    current.set_defaults(func=run_current)

    check = actions.add_parser(
        "verify", help="re-run recorded evaluations with the ruleset their SHA-256 names and compare"
    )
    check.add_argument("--database-url", metavar="URL", help=url_help)
    check.add_argument("ids", metavar="ID", nargs="*", type=int, help="evaluation ids (default: all)")
    check.set_defaults(func=run_verify)

    load = actions.add_parser("import", help="publish the rulesets of a folder (idempotent by hash)")
    load.add_argument("--database-url", metavar="URL", help=url_help)
    load.add_argument(
        "--rulesets", metavar="DIR", help="rulesets folder (default: $THIDUA_RULESETS, else rulesets/)"
    )
    load.set_defaults(func=run_import)


def _store(url: str | None) -> Store:
    from service.db import Store

    return Store(url)


def run_upgrade(args: argparse.Namespace) -> int:
    store = _store(args.database_url)
    try:
        before = store.schema_revision()
        store.migrate()
        after = store.schema_revision()
    finally:
        store.close()
    if before == after:
        print(f"{store.url}: already at revision {after} (newest)")
    else:
        print(f"{store.url}: upgraded from {before or 'an empty database'} to revision {after}")
    return EXIT_OK


def run_current(args: argparse.Namespace) -> int:
    from service.db import migrations

    store = _store(args.database_url)
    try:
        revision = store.schema_revision()
    finally:
        store.close()
    if revision is None:
        print(f"{store.url}: not migrated (run `thidua db upgrade`)")
        return EXIT_FAILED
    state = "newest" if revision == migrations.head() else f"newest is {migrations.head()}"
    print(f"{store.url}: revision {revision} ({state})")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from dsl.registry import rulesets_dir
    from service.db.importer import import_rulesets

    store = _store(args.database_url)
    try:
        store.migrate()
        report = import_rulesets(store, rulesets_dir(args.rulesets))
    finally:
        store.close()
    for ref in report.published:
        print(f"published {ref}")
    for ref, reason in report.failed.items():
        print(f"thidua: {ref}: {reason}", file=sys.stderr)
    print(report.summary())
    return EXIT_FAILED if report.failed else EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    from service.db.verify import verify

    store = _store(args.database_url)
    try:
        ids = args.ids or [e.id for e in store.evaluations()]
        failed = 0
        for evaluation_id in ids:
            outcome = verify(store, evaluation_id)
            mark = "ok" if outcome.matches else "DIFFERS"
            failed += not outcome.matches
            evaluation = outcome.evaluation
            print(
                f"{mark:7} evaluation {evaluation_id} ({evaluation.kind}, {outcome.ruleset.ref}, sha256 {evaluation.ruleset_sha256[:12]}…)"
            )
    finally:
        store.close()
    print(f"{len(ids) - failed} verified, {failed} differ")
    return EXIT_FAILED if failed else EXIT_OK
