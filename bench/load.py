"""Bounded load on loopback: Score, ScoreStream and CheckEligibility against ``thidua serve --workers 2``.

    .venv/bin/python bench/load.py [--clients 4] [--requests 3000] [--seconds 600] [--database-url URL]

A private PostgreSQL (bench/_pg.py) is started unless ``--database-url`` is
given, and ``thidua serve --workers 2`` runs on it (every answered evaluation
is recorded there, as in production). ``--clients`` spawned client processes
(2 threads each) send ``--requests`` calls each, in turn Score, ScoreStream
(``--stream-items`` submissions per stream) and CheckEligibility of the whole
bundled khoi3 2023 bloc, stopping early at ``--seconds``. Every answer is
checked (the reference unit scores 102.88; the bloc has all its units). The
figures: calls/s per kind, latency p50/p99/p999/max, and the errors — which
must be zero (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pg import PrivatePostgres  # noqa: E402
from _service import ServeProcess, eligibility_request, machine, percentiles, score_request  # noqa: E402

EXPECTED_SCORE = "102.88"
KINDS = ("Score", "ScoreStream", "CheckEligibility")


def client(
    address: str,
    requests: int,
    seconds: float,
    stream_items: int,
    threads: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Client process body: ``threads`` threads share ``requests`` calls, round-robin over the kinds."""
    import grpc

    from service.gen.thidua.v1 import evaluation_pb2_grpc

    score, check = score_request(), eligibility_request()
    units = len(check.bloc_case.submissions)
    channel = grpc.insecure_channel(address)
    stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
    latencies: dict[str, list[float]] = defaultdict(list)
    items: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    stub.Score(score, timeout=60)  # warm up (connection, compiled ruleset) before the clock starts
    ready.put(1)
    go.wait()
    deadline = time.time() + seconds

    def one(kind: str) -> None:
        if kind == "Score":
            answer = stub.Score(score, timeout=60)
            if answer.result.score != EXPECTED_SCORE:
                raise AssertionError(f"Score answered {answer.result.score}")
            items[kind] += 1
        elif kind == "ScoreStream":
            answers = list(stub.ScoreStream(iter([score] * stream_items), timeout=60))
            bad = [a for a in answers if a.HasField("error") or a.result.score != EXPECTED_SCORE]
            if len(answers) != stream_items or bad:
                raise AssertionError(f"ScoreStream: {len(answers)} answers, {len(bad)} wrong")
            items[kind] += stream_items
        else:
            checked = stub.CheckEligibility(check, timeout=60)
            if len(checked.units) != units:
                raise AssertionError(f"CheckEligibility answered {len(checked.units)} of {units} units")
            items[kind] += 1

    def loop() -> None:
        while time.time() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            kind = KINDS[index % len(KINDS)]
            started = time.perf_counter()
            try:
                one(kind)
            except grpc.RpcError as exc:
                with lock:
                    errors.append(f"{kind}: {exc.code()} {exc.details()}")
                continue
            except AssertionError as exc:
                with lock:
                    errors.append(f"{kind}: {exc}")
                continue
            with lock:
                latencies[kind].append(time.perf_counter() - started)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    channel.close()
    out.put((dict(latencies), dict(items), errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per client process (default 2)")
    parser.add_argument("--requests", type=int, default=3000, help="calls per client process (default 3000)")
    parser.add_argument("--seconds", type=float, default=600.0, help="time limit of the run (default 600)")
    parser.add_argument(
        "--stream-items", type=int, default=20, help="submissions per ScoreStream (default 20)"
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--database-url", help="use this database instead of a private PostgreSQL")
    args = parser.parse_args(argv)

    print(f"load: {machine()}")
    with tempfile.TemporaryDirectory(prefix="thidua-load-") as tmp:
        pg = None if args.database_url else PrivatePostgres.start()
        server = None
        try:
            url = args.database_url or (pg.url if pg else "")
            server = ServeProcess.start(
                database_url=url, workers=args.workers, log_path=Path(tmp) / "serve.log"
            )
            print(
                f"server: thidua serve --workers {args.workers} on {server.address}, database "
                f"{'private PostgreSQL' if pg else url.split('@')[-1]}; {args.clients} client processes × "
                f"{args.threads} threads × {args.requests} calls (limit {args.seconds:.0f} s)"
            )
            ctx = mp.get_context("spawn")
            queue: Any = ctx.Queue()
            ready: Any = ctx.Queue()
            go = ctx.Event()
            procs = [
                ctx.Process(
                    target=client,
                    args=(
                        server.address,
                        args.requests,
                        args.seconds,
                        args.stream_items,
                        args.threads,
                        ready,
                        go,
                        queue,
                    ),
                )
                for _ in range(args.clients)
            ]
            for p in procs:
                p.start()
            for _ in procs:
                ready.get(timeout=120)
            started = time.perf_counter()
            go.set()
            latencies: dict[str, list[float]] = defaultdict(list)
            items: dict[str, int] = defaultdict(int)
            errors: list[str] = []
            for _ in procs:
                lat, done, errs = queue.get(timeout=args.seconds + 120)
                for kind, values in lat.items():
                    latencies[kind].extend(values)
                for kind, count in done.items():
                    items[kind] += count
                errors.extend(errs)
            elapsed = time.perf_counter() - started
            for p in procs:
                p.join(30)
            code = server.stop()
            server = None
        finally:
            if server is not None:
                server.stop()
            if pg is not None:
                pg.close()

    calls = sum(len(v) for v in latencies.values())
    planned = args.clients * args.requests
    print(f"elapsed {elapsed:.1f} s; {calls + len(errors)} of {planned} calls made")
    print(
        f"{'kind':<17}{'calls':>7}{'calls/s':>9}{'items/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p999 ms':>9}{'max ms':>9}"
    )
    for kind in KINDS:
        q = percentiles(latencies[kind])
        n = len(latencies[kind])
        print(
            f"{kind:<17}{n:>7}{n / elapsed:>9.1f}{items[kind] / elapsed:>9.1f}"
            f"{q['p50']:>9.2f}{q['p99']:>9.2f}{q['p999']:>9.2f}{q['max']:>9.2f}"
        )
    q = percentiles([x for v in latencies.values() for x in v])
    print(
        f"{'all':<17}{calls:>7}{calls / elapsed:>9.1f}{'':>9}{q['p50']:>9.2f}{q['p99']:>9.2f}"
        f"{q['p999']:>9.2f}{q['max']:>9.2f}"
    )
    print(f"errors: {len(errors)}; server exit code after SIGTERM: {code}")
    for line in errors[:10]:
        print(f"  {line}")
    return 0 if not errors and calls == planned and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
