"""Faults under load, small scale: PostgreSQL crashed and restarted, the service killed and restarted.

The full-size runs are ``bench/faults.py`` (``make reliability``); these run the
same scenario code (`faults.run_scenario`) with 30 writes and one fault of each
kind in one run (one server start, one private cluster, to keep the suite fast): a real
``thidua serve`` process on a private PostgreSQL (never the shared server),
writer threads storing submissions with idempotency keys and retrying
UNAVAILABLE, Score calls alongside, then the database read directly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import faults  # noqa: E402
from _pg import PostgresUnavailable, PrivatePostgres  # noqa: E402


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this module's own (skipped when PostgreSQL binaries are missing)."""
    try:
        pg = PrivatePostgres.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"cannot run a private PostgreSQL: {exc}")
    with pg:
        yield pg


def test_database_crash_and_service_kill_under_load(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    """PostgreSQL crashed and restarted, then the service SIGKILLed and restarted, mid-load: nothing lost or doubled."""
    database = faults.postgres_fault(private_pg, pause=0.5)
    service = faults.service_fault(pause=0.2)

    def inject(server: Any, index: int) -> float:
        # Fault 1: `pg_ctl stop -m immediate` (a database crash); fault 2: SIGKILL of the service.
        return database(server, 1) if index == 0 else service(server, index)

    outcome = faults.run_scenario(
        "postgres+service",
        database_url=private_pg.url,
        writes=30,
        faults=2,
        inject=inject,
        log_path=tmp_path / "serve.log",
        writer_threads=3,
        score_threads=1,
        time_limit=120,
        bloc="t_faults",
    )
    assert (30, 0, 0, 0, 0, 0) == (
        outcome.acknowledged,
        outcome.gave_up,
        outcome.lost,
        outcome.duplicate_keys,
        outcome.duplicate_units,
        outcome.unexplained_rows,
    ), outcome.report()
    assert outcome.retries > 0, "the faults happened while writes were in flight"
    assert 0 == outcome.server_exit
