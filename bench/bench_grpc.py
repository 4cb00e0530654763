"""gRPC service throughput on loopback: ratios measured in one run (not a test).

    .venv/bin/python bench/bench_grpc.py [--seconds 3] [--clients 4]

Servers run in their own processes, clients in others, all on 127.0.0.1:

1. **Score vs echo** — one server process (the real `build_server` stack:
   interceptors, thread pool, message options) also serving a bench-only
   ``thidua.bench.Echo/Echo`` that parses the same ScoreRequest payload and
   sends it back. Several client processes call unary Score, then Echo.
   Target: Score ≥ 0.7 × Echo calls/s.
2. **ScoreStream vs unary** — one client: sequential unary Score calls, then
   one ScoreStream with the requests pipelined. Target: stream ≥ 5 × unary
   submissions/s.
3. **Workers** — unary Score from several client processes against
   ``--workers 1`` and ``--workers 2`` (SO_REUSEPORT). Target: 2 workers ≥
   1.6 × 1 worker. Clients share the machine's cores with the servers, so on a
   2-core machine this ratio is bounded by what the clients leave free.

Latency p50/p99 are reported for the unary runs. Every answer is checked
(the reference unit must score 102.88).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from service.config import ServerConfig  # noqa: E402
from service.convert import value_from_json  # noqa: E402
from service.gen.thidua.v1 import evaluation_pb2 as ev  # noqa: E402
from service.gen.thidua.v1 import evaluation_pb2_grpc  # noqa: E402
from service.gen.thidua.v1 import values_pb2 as vals  # noqa: E402

ECHO_METHOD = "/thidua.bench.Echo/Echo"
RULESETS = ROOT / "rulesets"
CASE = RULESETS / "khoi3" / "cases" / "2023.json"
EXPECTED_SCORE = "102.88"


def payload() -> ev.ScoreRequest:
    case = json.loads(CASE.read_text(encoding="utf-8"), parse_float=Decimal)
    sub = next(s for s in case["submissions"] if s["unit"] == "tham_muu")
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="khoi3", version="2023.1"),
        unit="tham_muu",
        inputs={k: value_from_json(v) for k, v in sub["inputs"].items()},
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ servers


def _echo_handler() -> grpc.GenericRpcHandler:
    def echo(request: ev.ScoreRequest, context: grpc.ServicerContext) -> ev.ScoreRequest:
        return request

    handler = grpc.unary_unary_rpc_method_handler(
        echo,
        request_deserializer=ev.ScoreRequest.FromString,
        response_serializer=ev.ScoreRequest.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("thidua.bench.Echo", {"Echo": handler})


def _serve(port: int, workers: int, echo: bool) -> None:
    """Server process body: the real server (plus Echo), quiet logs, until SIGTERM."""
    import structlog

    from service import logging as service_logging
    from service.server import build_server, serve

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    service_logging.configure("json", "warning", devnull)
    structlog.get_logger().debug("bench server")
    config = ServerConfig(address=f"127.0.0.1:{port}", rulesets=RULESETS, workers=workers)
    if not echo:
        serve(config)
        return
    running = build_server(config)
    running.server.add_generic_rpc_handlers((_echo_handler(),))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    running.server.stop(1).wait()


@dataclass
class Server:
    process: mp.process.BaseProcess
    port: int

    def stop(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(20)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def start_server(workers: int = 1, echo: bool = False) -> Server:
    port = free_port()
    # fork: the child must not inherit gRPC state, and the parent has made no gRPC object yet
    # when servers start (channels are created only after, in client processes).
    proc = mp.get_context("fork").Process(target=_serve, args=(port, workers, echo), daemon=False)
    proc.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                status = (
                    health_pb2_grpc.HealthStub(channel)
                    .Check(health_pb2.HealthCheckRequest(), timeout=2)
                    .status
                )
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return Server(proc, port)
            except grpc.RpcError:
                time.sleep(0.1)
    finally:
        channel.close()
    raise RuntimeError("the bench server did not start")


# ------------------------------------------------------------------ clients


def _unary_client(port: int, method: str, seconds: float, threads: int, out: Any) -> None:
    """Client process: ``threads`` threads calling ``method`` back to back for ``seconds``."""
    request = payload()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    if method == "score":
        call = evaluation_pb2_grpc.EvaluationServiceStub(channel).Score
    else:
        call = channel.unary_unary(
            ECHO_METHOD,
            request_serializer=ev.ScoreRequest.SerializeToString,
            response_deserializer=ev.ScoreRequest.FromString,
        )
    call(request, timeout=30)  # warm up (connection, compiled ruleset cache)
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    bad = 0

    def loop() -> None:
        nonlocal bad
        mine: list[float] = []
        wrong = 0
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                break
            response = call(request, timeout=30)
            mine.append(time.perf_counter() - start)
            if method == "score" and response.result.score != EXPECTED_SCORE:
                wrong += 1
        with lock:
            latencies.extend(mine)
            bad += wrong

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    channel.close()
    out.put((latencies, bad))


@dataclass(frozen=True)
class Rate:
    calls: int
    per_second: float
    p50_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return f"{self.per_second:9.0f}/s  (p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, {self.calls} calls)"


def unary_rate(port: int, method: str, seconds: float, processes: int, threads: int) -> Rate:
    queue: Any = mp.get_context("fork").Queue()
    procs = [
        mp.get_context("fork").Process(target=_unary_client, args=(port, method, seconds, threads, queue))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    bad = 0
    for _ in procs:
        got, wrong = queue.get(timeout=seconds + 120)
        latencies.extend(got)
        bad += wrong
    for p in procs:
        p.join()
    if bad:
        raise AssertionError(f"{bad} Score answers were wrong")
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return Rate(len(latencies), len(latencies) / seconds, q[49] * 1000, q[98] * 1000)


def _stream_client(port: int, seconds: float, out: Any) -> None:
    request = payload()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
    stub.Score(request, timeout=30)
    stop_at = time.perf_counter() + seconds

    def requests() -> Any:
        while time.perf_counter() < stop_at:
            yield request

    started = time.perf_counter()
    count = bad = 0
    for response in stub.ScoreStream(requests(), timeout=seconds + 120):
        count += 1
        bad += response.result.score != EXPECTED_SCORE
    elapsed = time.perf_counter() - started
    channel.close()
    out.put((count, elapsed, bad))


def stream_rate(port: int, seconds: float) -> float:
    queue: Any = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=_stream_client, args=(port, seconds, queue))
    proc.start()
    count, elapsed, bad = queue.get(timeout=seconds + 120)
    proc.join()
    if bad:
        raise AssertionError(f"{bad} streamed answers were wrong")
    return float(count / elapsed)


# ------------------------------------------------------------------ main


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:5.2f}×  (target ≥ {target}×: {'met' if ratio >= target else 'NOT met'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement (default 3)")
    parser.add_argument("--clients", type=int, default=4, help="client processes for the multi-client runs")
    parser.add_argument("--threads", type=int, default=2, help="threads per client process")
    args = parser.parse_args(argv)
    s, clients, threads = args.seconds, args.clients, args.threads
    print(
        f"bench_grpc: {os.cpu_count()} cores, {s:.0f} s per run, {clients} client processes × {threads} threads"
    )

    server = start_server(echo=True)
    try:
        score = unary_rate(server.port, "score", s, clients, threads)
        echo = unary_rate(server.port, "echo", s, clients, threads)
        single = unary_rate(server.port, "score", s, 1, 1)
        streamed = stream_rate(server.port, s)
    finally:
        server.stop()
    print(f"unary Score, {clients}×{threads} clients  {score}")
    print(f"unary Echo,  {clients}×{threads} clients  {echo}")
    print(f"unary Score, 1 client        {single}")
    print(f"ScoreStream, 1 client        {streamed:9.0f}/s")

    rates = {}
    for workers in (1, 2):
        server = start_server(workers=workers)
        try:
            rates[workers] = unary_rate(server.port, "score", s, clients, threads)
        finally:
            server.stop()
        print(f"unary Score, --workers {workers}   {rates[workers]}")

    print()
    print(f"Score / Echo (same stack, same payload):  {verdict(score.per_second / echo.per_second, 0.7)}")
    print(f"ScoreStream / unary Score (1 client):     {verdict(streamed / single.per_second, 5.0)}")
    print(
        f"--workers 2 / --workers 1:                {verdict(rates[2].per_second / rates[1].per_second, 1.6)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
