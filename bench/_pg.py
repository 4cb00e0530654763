"""A private, throwaway PostgreSQL server for fault tests: started, stopped, restarted and removed by us.

The machine's shared PostgreSQL (127.0.0.1:5432) serves other people's tests and
must never be stopped, so the "database goes away under load" figures come from
an instance of our own: ``initdb`` into a temporary folder, a free loopback
port, ``trust`` authentication for loopback only, sockets inside the folder.
``initdb`` refuses to run as root, so as root the binaries run as the
``postgres`` system user through ``runuser``. `PrivatePostgres.close` (also the
context manager's exit, also at interpreter exit) stops the server and deletes
the folder whatever happened before.

    with PrivatePostgres.start() as pg:
        url = pg.url                       # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        pg.stop(); pg.start_again()        # the fault
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the private server would not start (the message says which)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("initdb not found (looked in /usr/lib/postgresql/*/bin and PATH)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """One private PostgreSQL server in a temporary folder on a free loopback port."""

    def __init__(self, folder: Path, port: int, bin_dir: Path, as_user: list[str]) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port
        self._bin = bin_dir
        self._as_user = as_user
        self._closed = False
        atexit.register(self.close)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database as the ``postgres`` superuser."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls) -> PrivatePostgres:
        """initdb a new cluster and start it; raises `PostgresUnavailable` when that cannot be done."""
        bin_dir = _bin_dir()
        folder = Path(tempfile.mkdtemp(prefix="thidua-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                shutil.rmtree(folder, ignore_errors=True)
                raise PostgresUnavailable("running as root and runuser is missing (initdb refuses root)")
            as_user = [runuser, "-u", PG_USER, "--"]
            shutil.chown(folder, PG_USER)
        os.chmod(folder, 0o700)
        pg = cls(folder, _free_port(), bin_dir, as_user)
        try:
            pg._run("initdb", "-D", str(pg.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync")
            conf = (
                f"listen_addresses = '127.0.0.1'\nport = {pg.port}\n"
                f"unix_socket_directories = '{folder}'\n"
                # fsync only guards against the operating system crashing, which we never simulate;
                # synchronous_commit stays on: an acknowledged commit must survive `stop -m immediate`.
                "fsync = off\nsynchronous_commit = on\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 32MB\n"
            )
            with (pg.data / "postgresql.conf").open("a", encoding="utf-8") as f:
                f.write(conf)
            pg.start_again()
        except BaseException:
            pg.close()
            raise
        return pg

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(self._bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-500:]}")

    def start_again(self) -> None:
        """Start the (stopped) server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start"
        )
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, roll back; ``immediate``: like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Return once a TCP connection and ``SELECT 1`` succeed."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", connect_timeout=2
                ) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"the private server on port {self.port} did not come up"
                    ) from None
                time.sleep(0.1)

    def close(self) -> None:
        """Stop the server if it runs and delete its folder (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired, OSError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
