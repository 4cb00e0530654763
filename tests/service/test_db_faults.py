"""service.db under faults: an unreachable database, a database that comes back, a process killed mid-write."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.db import Store, UnavailableError

RESOLVED = 'ruleset khoi3 version "2023.1" {\n  description "x"\n}\n'
SHA = hashlib.sha256(RESOLVED.encode()).hexdigest()


class TcpProxy:
    """A loopback TCP forwarder that can be cut and restored: a database going away and coming back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        self.up = False
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self._listener.close()


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """A migrated PostgreSQL schema reached through a proxy the test can cut."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    setup = Store(postgres_url)
    setup.migrate()
    setup.close()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()


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
