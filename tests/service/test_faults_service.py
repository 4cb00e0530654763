"""Faults under load, small scale: PostgreSQL stopped and restarted, the service killed and restarted.

The full-size runs are ``bench/faults.py`` (``make reliability``); these run the
same scenario code (`faults.run_scenario`) with a few dozen writes: a real
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


def _run(kind: str, pg: PrivatePostgres, inject: Any, tmp_path: Path) -> faults.Outcome:
    return faults.run_scenario(
        kind,
        database_url=pg.url,
        writes=24,
        faults=1,
        inject=inject,
        log_path=tmp_path / "serve.log",
        writer_threads=3,
        score_threads=1,
        time_limit=120,
        bloc=f"t_{kind}",
    )


def test_postgres_stopped_and_restarted_under_load(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    """A database crash mid-load: every write acknowledged after retries, none lost or doubled; Score unaffected."""
    outcome = _run("postgres", private_pg, faults.postgres_fault(private_pg, pause=0.5), tmp_path)
    assert (24, 0, 0, 0, 0) == (
        outcome.acknowledged,
        outcome.lost,
        outcome.duplicate_keys,
        outcome.duplicate_units,
        outcome.unexplained_rows,
    ), outcome.report()
    assert 0 == outcome.score_errors, outcome.report()
    assert 0 == outcome.server_exit


def test_service_killed_and_restarted_under_load(private_pg: PrivatePostgres, tmp_path: Path) -> None:
    """SIGKILL of the service mid-load: clients retry until it is back; no write lost or doubled."""
    outcome = _run("service", private_pg, faults.service_fault(pause=0.2), tmp_path)
    assert (24, 0, 0, 0, 0) == (
        outcome.acknowledged,
        outcome.lost,
        outcome.duplicate_keys,
        outcome.duplicate_units,
        outcome.unexplained_rows,
    ), outcome.report()
    assert outcome.retries > 0, "the kill happened while writes were in flight"
    assert 0 == outcome.server_exit
