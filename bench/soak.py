"""Soak: many Score calls against one ``thidua serve``; its resident memory must stop growing.

    .venv/bin/python bench/soak.py [--calls 200000] [--clients 3] [--seconds 1800] [--database-url URL]

``thidua serve`` (one process, so its RSS is the service's) runs on a private
PostgreSQL (bench/_pg.py) unless ``--database-url`` is given; every answered
Score is recorded there, as in production. Client processes call Score (the
reference unit, checked to be 102.88) until ``--calls`` are done or
``--seconds`` have passed. The server's RSS is sampled every second; the
figures are the RSS once the first ``--warmup`` (default 20,000) calls are
answered, the RSS at the end, the growth between them (must be < 5 %), the
largest sample, throughput and errors (must be 0). Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _pg import PrivatePostgres  # noqa: E402
from _service import ServeProcess, machine, percentiles, score_request  # noqa: E402

EXPECTED_SCORE = "102.88"
LIMIT_GROWTH = 0.05


def client(address: str, calls: int, seconds: float, threads: int, done: Any, errors: Any, out: Any) -> None:
    """Client process body: ``threads`` threads calling Score ``calls`` times in all; counts shared."""
    import grpc

    from service.gen.thidua.v1 import evaluation_pb2_grpc

    request = score_request()
    channel = grpc.insecure_channel(address)
    stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
    deadline = time.time() + seconds
    lock = threading.Lock()
    remaining = [calls]
    latencies: list[float] = []

    def loop() -> None:
        mine: list[float] = []
        local = 0
        while time.time() < deadline:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                ok = stub.Score(request, timeout=60).result.score == EXPECTED_SCORE
            except grpc.RpcError:
                ok = False
            mine.append(time.perf_counter() - started)
            if not ok:
                with errors.get_lock():
                    errors.value += 1
            local += 1
            if local == 100:  # shared counter updated in steps: cheap, and precise enough for sampling
                with done.get_lock():
                    done.value += local
                local = 0
        with done.get_lock():
            done.value += local
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    channel.close()
    # Every 10th latency is plenty for percentiles and keeps the pipe small.
    out.put(latencies[::10])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="Score calls in all (default 200,000)")
    parser.add_argument(
        "--warmup", type=int, default=20_000, help="calls before the baseline RSS (default 20,000)"
    )
    parser.add_argument("--clients", type=int, default=3, help="client processes (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per client (default 2)")
    parser.add_argument("--seconds", type=float, default=1800.0, help="time limit (default 1800)")
    parser.add_argument("--database-url", help="use this database instead of a private PostgreSQL")
    args = parser.parse_args(argv)

    print(f"soak: {machine()}")
    samples: list[tuple[float, int, int]] = []  # (seconds, calls done, RSS KiB)
    with tempfile.TemporaryDirectory(prefix="thidua-soak-") as tmp:
        pg = None if args.database_url else PrivatePostgres.start()
        server = None
        try:
            url = args.database_url or (pg.url if pg else "")
            server = ServeProcess.start(database_url=url, workers=1, log_path=Path(tmp) / "serve.log")
            print(
                f"server: thidua serve (1 process) on {server.address}, "
                f"{'private PostgreSQL' if pg else 'given database'}; {args.calls} Score calls from "
                f"{args.clients} processes × {args.threads} threads (limit {args.seconds:.0f} s)"
            )
            print(f"RSS at start: {server.rss_kib() / 1024:.1f} MiB")
            ctx = mp.get_context("spawn")
            done, errors = ctx.Value("q", 0), ctx.Value("q", 0)
            queue: Any = ctx.Queue()
            shares = [
                args.calls // args.clients + (i < args.calls % args.clients) for i in range(args.clients)
            ]
            procs = [
                ctx.Process(
                    target=client,
                    args=(server.address, share, args.seconds, args.threads, done, errors, queue),
                )
                for share in shares
            ]
            started = time.perf_counter()
            for p in procs:
                p.start()
            next_report = 0
            latencies: list[float] = []
            received = 0
            # Read results while sampling: a client cannot exit before its results left the pipe.
            while received < len(procs):
                try:
                    latencies.extend(queue.get(timeout=1.0))
                    received += 1
                except Empty:
                    if not any(p.is_alive() for p in procs) and queue.empty():
                        raise RuntimeError("a client process died without reporting") from None
                samples.append((time.perf_counter() - started, done.value, server.rss_kib()))
                if done.value >= next_report:
                    print(f"  {done.value:>7} calls  RSS {samples[-1][2] / 1024:7.1f} MiB", flush=True)
                    next_report += 20_000
            for p in procs:
                p.join(30)
            elapsed = time.perf_counter() - started
            final_rss = server.rss_kib()
            samples.append((elapsed, done.value, final_rss))
            code = server.stop()
            server = None
        finally:
            if server is not None:
                server.stop()
            if pg is not None:
                pg.close()

    total = done.value
    baseline = next((rss for _, calls, rss in samples if calls >= args.warmup), samples[-1][2])
    peak = max(rss for _, _, rss in samples)
    growth = (final_rss - baseline) / baseline if baseline else 0.0
    q = percentiles(latencies)
    print(
        f"calls answered: {total} of {args.calls} in {elapsed:.1f} s ({total / elapsed:.0f}/s); errors: {errors.value}"
    )
    print(f"latency (every 10th call): p50 {q['p50']:.2f} ms, p99 {q['p99']:.2f} ms, p999 {q['p999']:.2f} ms")
    print(
        f"RSS after {args.warmup} calls: {baseline / 1024:.1f} MiB; at the end: {final_rss / 1024:.1f} MiB; "
        f"growth {growth * 100:+.2f} % (limit {LIMIT_GROWTH * 100:.0f} %); peak {peak / 1024:.1f} MiB"
    )
    print(f"server exit code after SIGTERM: {code}")
    ok = total == args.calls and errors.value == 0 and growth < LIMIT_GROWTH and code == 0
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
