"""Faults under load: the database stopped and restarted, the service killed and restarted.

    .venv/bin/python bench/faults.py [--writes 2000] [--faults 3] [--kind all|postgres|service]

Set-up: a private PostgreSQL (bench/_pg.py) and ``thidua serve`` on it. Writer
threads store submissions through BlocService.StoreSubmissions, each write
with its own idempotency key (one unit, its own period), retrying with the
same key on UNAVAILABLE or DEADLINE_EXCEEDED until it is acknowledged; other
threads call Score at the same time. While that runs, the fault is injected
``--faults`` times:

- ``postgres``: ``pg_ctl stop -m fast`` (every connection cut, open
  transactions rolled back), a pause, ``pg_ctl start``; once more with
  ``-m immediate`` (a database crash);
- ``service``: SIGKILL to the serving processes (no grace, in-flight calls
  cut), a pause, ``thidua serve`` started again on the same port.

Then the database is read directly. The figures: writes acknowledged,
acknowledged writes missing (lost, must be 0), keys or (unit, period) stored
more than once (duplicates, must be 0), rows no acknowledged write accounts
for (must be 0), retries the clients needed, the longest time a write took
to be acknowledged, and Score calls that failed (during a database outage
Score must keep answering: recording is off the request path). Exit 1 when a
check fails. `run_scenario` is also used, at small scale, by
tests/service/test_faults_service.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pg import PrivatePostgres  # noqa: E402
from _service import ServeProcess, machine, score_request  # noqa: E402

BLOC = "faults"
MEMBERS = ["u1", "u2", "u3", "u4"]
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
CHANNEL_OPTIONS = [
    # Reconnect quickly once the server is back (gRPC's default backoff grows to minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass
class Outcome:
    """What a fault scenario measured (see the module docstring)."""

    kind: str
    faults: int
    writes: int
    acknowledged: int = 0
    lost: int = 0
    duplicate_keys: int = 0
    duplicate_units: int = 0
    unexplained_rows: int = 0
    retries: int = 0
    repeated_acks: int = 0  # acknowledged with created=false: an earlier, unanswered attempt had committed
    gave_up: int = 0
    longest_write_s: float = 0.0
    scores: int = 0
    score_errors: int = 0
    score_error_codes: Counter[str] = field(default_factory=Counter)
    outages_s: list[float] = field(default_factory=list)
    server_exit: int | None = None

    @property
    def ok(self) -> bool:
        return (
            self.acknowledged == self.writes
            and self.lost == 0
            and self.duplicate_keys == 0
            and self.duplicate_units == 0
            and self.unexplained_rows == 0
        )

    def report(self) -> str:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(self.score_error_codes.items())) or "none"
        return "\n".join(
            [
                f"fault: {self.kind} × {self.faults} (outages {', '.join(f'{s:.1f} s' for s in self.outages_s)})",
                f"  writes acknowledged: {self.acknowledged} of {self.writes} (gave up: {self.gave_up})",
                f"  acknowledged writes lost: {self.lost}",
                f"  duplicates: {self.duplicate_keys} keys, {self.duplicate_units} (unit, period) pairs; "
                f"rows no acknowledged write explains: {self.unexplained_rows}",
                f"  client retries: {self.retries}; acknowledged on a retry as already stored "
                f"(created=false): {self.repeated_acks}; longest write until acknowledged: "
                f"{self.longest_write_s:.1f} s",
                f"  Score calls during the run: {self.scores}, failed: {self.score_errors} ({codes})",
                f"  result: {'PASS' if self.ok else 'FAIL'}",
            ]
        )


def _put_bloc(address: str, bloc: str, deadline: float) -> None:
    import grpc

    from service.gen.thidua.v1 import blocs_pb2, blocs_pb2_grpc

    with grpc.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = blocs_pb2_grpc.BlocServiceStub(channel)
        while True:
            try:
                stub.PutBloc(blocs_pb2.PutBlocRequest(name=bloc, members=MEMBERS), timeout=10)
                return
            except grpc.RpcError as exc:
                if exc.code().name not in RETRYABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def run_scenario(
    kind: str,
    *,
    database_url: str,
    writes: int,
    faults: int,
    inject: Callable[[ServeProcess, int], float],
    log_path: Path,
    writer_threads: int = 4,
    score_threads: int = 2,
    workers: int = 1,
    time_limit: float = 600.0,
    bloc: str = BLOC,
) -> Outcome:
    """Start the service on ``database_url``, run writes and Score calls, call ``inject`` ``faults`` times.

    ``inject(server, index)`` performs one fault and returns how long the outage lasted;
    faults are spread evenly over the writes. The database is checked afterwards. Writes go
    to ``bloc`` (created if needed) with keys ``BLOC-INDEX``, so scenarios can share a database.
    """
    import grpc
    import sqlalchemy as sa

    from service.gen.thidua.v1 import blocs_pb2, blocs_pb2_grpc, evaluation_pb2_grpc
    from service.gen.thidua.v1 import values_pb2 as vals

    outcome = Outcome(kind, faults, writes)
    server = ServeProcess.start(database_url=database_url, workers=workers, log_path=log_path)
    deadline = time.monotonic() + time_limit
    try:
        _put_bloc(server.address, bloc, deadline)
        channel = grpc.insecure_channel(server.address, options=CHANNEL_OPTIONS)
        blocs = blocs_pb2_grpc.BlocServiceStub(channel)
        evaluation = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        lock = threading.Lock()
        todo = iter(range(writes))
        acked: dict[str, tuple[str, str]] = {}
        done_count = [0]
        writers_done = threading.Event()

        def write(index: int) -> None:
            key = f"{bloc}-{index}"
            unit, period = MEMBERS[index % len(MEMBERS)], f"p{index}"
            request = blocs_pb2.StoreSubmissionsRequest(
                bloc=bloc,
                period=period,
                author="faults",
                submissions=[
                    blocs_pb2.SubmissionInput(
                        unit=unit,
                        idempotency_key=key,
                        inputs={"n": vals.Value(integer=index), "note": vals.Value(text=key)},
                    )
                ],
            )
            first = time.monotonic()
            attempt = 0
            while time.monotonic() < deadline:
                attempt += 1
                try:
                    answer = blocs.StoreSubmissions(request, timeout=10)
                except grpc.RpcError as exc:
                    if exc.code().name not in RETRYABLE:
                        raise
                    with lock:
                        outcome.retries += 1
                    time.sleep(min(0.05 * attempt, 0.5))
                    continue
                with lock:
                    acked[key] = (unit, period)
                    outcome.acknowledged += 1
                    outcome.repeated_acks += attempt > 1 and not answer.writes[0].created
                    outcome.longest_write_s = max(outcome.longest_write_s, time.monotonic() - first)
                    done_count[0] += 1
                return
            with lock:
                outcome.gave_up += 1

        def writer() -> None:
            while True:
                with lock:
                    index = next(todo, None)
                if index is None:
                    return
                write(index)

        def scorer() -> None:
            request = score_request()
            while not writers_done.is_set() and time.monotonic() < deadline:
                try:
                    evaluation.Score(request, timeout=10)
                    with lock:
                        outcome.scores += 1
                except grpc.RpcError as exc:
                    with lock:
                        outcome.scores += 1
                        outcome.score_errors += 1
                        outcome.score_error_codes[exc.code().name] += 1
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer) for _ in range(writer_threads)]
        scorers = [threading.Thread(target=scorer) for _ in range(score_threads)]
        for t in [*threads, *scorers]:
            t.start()
        for index in range(faults):
            # Spread the faults over the run: fault i once (i + 1)/(faults + 1) of the writes are acknowledged.
            target = writes * (index + 1) // (faults + 1)
            while (
                done_count[0] < target and time.monotonic() < deadline and any(t.is_alive() for t in threads)
            ):
                time.sleep(0.05)
            outcome.outages_s.append(inject(server, index))
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic()))
        writers_done.set()
        for t in scorers:
            t.join(30)
        channel.close()
    finally:
        outcome.server_exit = server.stop()

    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT s.idempotency_key, s.unit, s.period FROM submission s JOIN bloc b ON b.id = s.bloc_id "
                    "WHERE b.name = :bloc"
                ),
                {"bloc": bloc},
            ).all()
    finally:
        engine.dispose()
    keys = Counter(r[0] for r in rows)
    units = Counter((r[1], r[2]) for r in rows)
    outcome.lost = sum(1 for key in acked if keys[key] == 0)
    outcome.duplicate_keys = sum(1 for count in keys.values() if count > 1)
    outcome.duplicate_units = sum(1 for count in units.values() if count > 1)
    outcome.unexplained_rows = sum(1 for r in rows if r[0] not in acked or acked[r[0]] != (r[1], r[2]))
    return outcome


def postgres_fault(pg: PrivatePostgres, pause: float) -> Callable[[ServeProcess, int], float]:
    """Stop PostgreSQL (fast, then immediate = crash, alternately), wait ``pause`` s, start it again."""

    def inject(server: ServeProcess, index: int) -> float:
        started = time.monotonic()
        pg.stop("fast" if index % 2 == 0 else "immediate")
        time.sleep(pause)
        pg.start_again()
        return time.monotonic() - started

    return inject


def service_fault(pause: float) -> Callable[[ServeProcess, int], float]:
    """SIGKILL the service, wait ``pause`` s, start it again on the same port (until SERVING)."""

    def inject(server: ServeProcess, index: int) -> float:
        started = time.monotonic()
        server.kill()
        time.sleep(pause)
        server.restart()
        return time.monotonic() - started

    return inject


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["all", "postgres", "service"], default="all")
    parser.add_argument("--writes", type=int, default=2000, help="acknowledged writes wanted per fault kind")
    parser.add_argument("--faults", type=int, default=3, help="faults injected per kind (default 3)")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds the database/service stays down")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--seconds", type=float, default=900.0, help="time limit per kind (default 900)")
    args = parser.parse_args(argv)
    print(f"faults: {machine()}")
    kinds = ["postgres", "service"] if args.kind == "all" else [args.kind]
    ok = True
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="thidua-faults-") as tmp, PrivatePostgres.start() as pg:
            inject = postgres_fault(pg, args.pause) if kind == "postgres" else service_fault(args.pause)
            outcome = run_scenario(
                kind,
                database_url=pg.url,
                writes=args.writes,
                faults=args.faults,
                inject=inject,
                log_path=Path(tmp) / "serve.log",
                workers=args.workers,
                time_limit=args.seconds,
            )
        print(outcome.report(), flush=True)
        ok = ok and outcome.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
