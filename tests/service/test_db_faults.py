"""service.db under faults: an unreachable database, a database that comes back, a process killed mid-write."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.db import Store, UnavailableError
from tests.service.tcp_proxy import TcpProxy

RESOLVED = 'ruleset khoi3 version "2023.1" {\n  description "x"\n}\n'
SHA = hashlib.sha256(RESOLVED.encode()).hexdigest()


def test_unreachable_postgresql_raises_unavailable_for_reads_and_writes() -> None:
    """Every call on a PostgreSQL nobody listens on raises UnavailableError naming the database."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    store = Store(f"postgresql://postgres@127.0.0.1:{port}/test")
    calls: list[Any] = [
        lambda: store.publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice"),
        lambda: store.put_bloc("khoi3", ["a"]),
        lambda: store.store_submission("khoi3", "2023", "a", {"x": 1}, idempotency_key="k"),
        lambda: store.commit_holders("khoi3", "2024", "a", None),
        lambda: store.record_evaluation("score", ("khoi3", "2023.1", SHA), {}, {}),
        lambda: store.get_ruleset("khoi3"),
        store.migrate,
        store.ping,
    ]
    for call in calls:
        with pytest.raises(
            UnavailableError, match=f"database postgresql\\+psycopg://postgres@127.0.0.1:{port}/test"
        ):
            call()
    store.close()


def test_unopenable_sqlite_file_raises_unavailable(tmp_path: Path) -> None:
    """A SQLite path that cannot be opened as a database (it is a folder) raises UnavailableError."""
    (tmp_path / "thidua.db").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'thidua.db'}")
    with pytest.raises(UnavailableError, match="unable to open database file"):
        store.migrate()
    store.close()


def test_writes_fail_while_the_database_is_away_and_retries_do_not_duplicate(
    proxied_postgres: tuple[str, TcpProxy],
) -> None:
    """Cut the connection: writes raise UnavailableError; restored, the same retries store each write once."""
    url, proxy = proxied_postgres
    store = Store(url)
    store.put_bloc("khoi3", ["ubkt", "tccb"])
    first = store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="sub-1")
    proxy.cut()
    with pytest.raises(UnavailableError):
        store.store_submission("khoi3", "2023", "tccb", {"x": 2}, idempotency_key="sub-2")
    with pytest.raises(UnavailableError):
        store.publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice")
    proxy.restore()
    # The client cannot know whether sub-1's answer was lost: it retries every write.
    assert (False, first.submission.id) == (
        store.store_submission("khoi3", "2023", "ubkt", {"x": 1}, idempotency_key="sub-1").created,
        first.submission.id,
    )
    assert True is store.store_submission("khoi3", "2023", "tccb", {"x": 2}, idempotency_key="sub-2").created
    assert False is store.store_submission("khoi3", "2023", "tccb", {"x": 2}, idempotency_key="sub-2").created
    assert True is store.publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice").created
    assert [1, 1] == [len(store.submission_history("khoi3", "2023", u)) for u in ("ubkt", "tccb")]
    store.close()


def publish_and_hang(url: str, ready: Any) -> None:
    """Run in a child process: publish, but stop forever after the row is written and before the commit."""

    def hang(session: Session, _context: Any) -> None:
        ready.set()
        threading.Event().wait()

    from sqlalchemy import event

    event.listen(Session, "after_flush", hang)
    Store(url).publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice")


def test_process_killed_mid_publish_leaves_no_partial_version(database_url: str) -> None:
    """SIGKILL between the insert and the commit: after restart the version is absent, and publishing works."""
    setup = Store(database_url)
    setup.migrate()
    setup.close()  # no pooled connection may cross the fork
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=publish_and_hang, args=(database_url, ready))
    child.start()
    try:
        assert True is ready.wait(timeout=60)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert -signal.SIGKILL == child.exitcode
    restarted = Store(database_url)
    assert None is restarted.find_ruleset("khoi3", "2023.1")
    assert [] == restarted.list_rulesets()
    assert True is restarted.publish("khoi3", "2023.1", RESOLVED, RESOLVED, SHA, "alice").created
    restarted.close()
