"""gRPC service throughput on loopback: ratios measured in one run (not a test).

    .venv/bin/python bench/bench_grpc.py [--seconds 3] [--clients 4]

0. **In process** — µs of CPU per `EvaluationServicer.Score` call on the
   bench payload (input conversion, scoring, result message; no gRPC) and per
   call of the Echo handler below, in one process, interleaved.

Servers run in their own processes, clients in others, all on 127.0.0.1:

1. **Score vs echo** — one server process (the real `build_server` stack:
   interceptors, thread pool, message options) also serving a bench-only
   ``thidua.bench.Echo/Echo`` that parses the same ScoreRequest payload and
   sends it back. Several client processes call unary Score, then Echo.
   Target: Score ≥ 0.7 × Echo calls/s.
2. **ScoreStream vs unary** — one client: sequential unary Score calls, then
   one ScoreStream with the requests pipelined. Target: stream ≥ 5 × unary
   submissions/s. The same server also serves a bench-only bidirectional
   ``thidua.bench.Echo/EchoStream`` (one echoed request per request), measured
   with the same stream client, and unary Echo from one client: their ratio is
   the *ceiling* of stream/unary that this gRPC stack allows with no work at
   all, printed every run beside the target.
3. **Workers** — unary Score from several client processes against
   ``--workers 1`` and ``--workers 2`` (SO_REUSEPORT). Target: 2 workers ≥
   1.6 × 1 worker. Each client thread has its own connection
   (``grpc.use_local_subchannel_pool``), so the kernel can spread connections
   over both workers. Clients share the machine's cores with the servers:
   with S µs of server CPU and C µs of client CPU per call, N cores bound the
   rate at N / (S + C) calls per second, and 2 workers can reach at most
   2S / (S + C) × one worker's rate when one worker used a whole core and the
   machine has 2 — printed as the run's *ceiling*.

Runs compared with each other take turns: after a short warm-up window each
(not counted), each run gets two alternating windows of half the time, so a
change of machine load falls on both sides of a ratio. Both ``--workers``
servers run at once for that (the idle one costs nothing).

Every unary run also prints the server's and the clients' CPU per call
(``/proc/PID/stat`` of the server's process tree; ``time.process_time`` in
each client process). Latency p50/p99 are reported for the unary runs. Every
Score answer is checked (the reference unit must score 102.88).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import grpc  # noqa: E402
from _service import RULESETS, free_port, score_request, wait_serving  # noqa: E402

from service.config import ServerConfig  # noqa: E402
from service.convert import value_from_json  # noqa: E402
from service.gen.thidua.v1 import evaluation_pb2 as ev  # noqa: E402
from service.gen.thidua.v1 import evaluation_pb2_grpc  # noqa: E402
from service.gen.thidua.v1 import values_pb2 as vals  # noqa: E402

ECHO_METHOD = "/thidua.bench.Echo/Echo"
ECHO_STREAM_METHOD = "/thidua.bench.Echo/EchoStream"
EXPECTED_SCORE = "102.88"
#: The server's default request threads per process (`thidua serve --threads`).
SERVER_THREADS = ServerConfig().threads


# ------------------------------------------------------------------ servers


def _echo(request: ev.ScoreRequest, context: grpc.ServicerContext | None) -> ev.ScoreRequest:
    return request


def _echo_stream(
    requests: Iterator[ev.ScoreRequest], context: grpc.ServicerContext
) -> Iterator[ev.ScoreRequest]:
    # Like ScoreStream: the next request is read only after the previous answer was handed over.
    yield from requests


def _echo_handler() -> grpc.GenericRpcHandler[Any, Any]:
    unary = grpc.unary_unary_rpc_method_handler(
        _echo,
        request_deserializer=ev.ScoreRequest.FromString,
        response_serializer=ev.ScoreRequest.SerializeToString,
    )
    stream = grpc.stream_stream_rpc_method_handler(
        _echo_stream,
        request_deserializer=ev.ScoreRequest.FromString,
        response_serializer=ev.ScoreRequest.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("thidua.bench.Echo", {"Echo": unary, "EchoStream": stream})


def _serve(port: int, workers: int, echo: bool, threads: int) -> None:
    """Server process body: the real server (plus Echo), quiet logs, until SIGTERM."""
    import structlog

    from service import logging as service_logging
    from service.server import build_server, serve

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    service_logging.configure("json", "warning", devnull)
    structlog.get_logger().debug("bench server")
    config = ServerConfig(address=f"127.0.0.1:{port}", rulesets=RULESETS, workers=workers, threads=threads)
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

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(20)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def start_server(workers: int = 1, echo: bool = False, threads: int = SERVER_THREADS) -> Server:
    port = free_port()
    # fork: the child must not inherit gRPC state, and the parent has made no gRPC object yet
    # when servers start (channels are created only after, in client processes).
    proc = mp.get_context("fork").Process(target=_serve, args=(port, workers, echo, threads), daemon=False)
    proc.start()
    wait_serving(f"127.0.0.1:{port}", 60)
    return Server(proc, port)


# ------------------------------------------------------------------ CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of every thread) of a live process, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": state, ppid, …; utime and stime are the 14th and 15th fields of the line.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and every live descendant (a server and its workers)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            got = _proc_stat(int(entry))
            if got is not None:
                stats[int(entry)] = got
    out: dict[int, float] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1]
            frontier.extend(child for child, (ppid, _) in stats.items() if ppid == pid)
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds of each process between two `tree_cpu` snapshots (processes present in both)."""
    return {pid: after[pid] - before[pid] for pid in after if pid in before}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ clients


def _channel(port: int, own_connection: bool) -> grpc.Channel:
    # A local subchannel pool gives the channel its own TCP connection even when the
    # process already has one to the same address (gRPC shares them by default).
    options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=options)


def _unary_callable(channel: grpc.Channel, method: str) -> Any:
    if method == "score":
        return evaluation_pb2_grpc.EvaluationServiceStub(channel).Score
    return channel.unary_unary(
        ECHO_METHOD,
        request_serializer=ev.ScoreRequest.SerializeToString,
        response_deserializer=ev.ScoreRequest.FromString,
    )


def _unary_client(
    port: int, method: str, seconds: float, threads: int, own_connections: bool, out: Any
) -> None:
    """Client process: ``threads`` threads calling ``method`` back to back for ``seconds``.

    With ``own_connections`` each thread has its own channel (and TCP connection);
    otherwise the threads share one.
    """
    request = score_request()
    shared = _channel(port, False)
    channels = [_channel(port, True) for _ in range(threads)] if own_connections else [shared] * threads
    calls = [_unary_callable(c, method) for c in channels]
    for call in calls:
        call(request, timeout=30)  # warm up (connection, compiled ruleset cache)
    latencies: list[float] = []
    lock = threading.Lock()
    bad = 0
    cpu_start = time.process_time()
    stop_at = time.perf_counter() + seconds

    def loop(call: Any) -> None:
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

    workers = [threading.Thread(target=loop, args=(call,)) for call in calls]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu = time.process_time() - cpu_start
    for c in {id(c): c for c in [shared, *channels]}.values():
        c.close()
    out.put((latencies, bad, cpu))


@dataclass(frozen=True)
class Rate:
    calls: int
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_us: float  # the server's process tree, CPU per call
    client_cpu_us: float  # the client processes, CPU per call
    server_split: tuple[float, ...]  # share of the server's CPU per busy process (workers)

    @property
    def cores_busy(self) -> float:
        """Cores kept busy on average by the server and the clients together."""
        return self.per_second * (self.server_cpu_us + self.client_cpu_us) / 1e6

    def __str__(self) -> str:
        split = ""
        if len(self.server_split) > 1:
            split = ", server processes " + "/".join(f"{share:.0%}" for share in self.server_split)
        return (
            f"{self.per_second:7.0f}/s  (p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, {self.calls} calls)\n"
            f"      CPU per call: server {self.server_cpu_us:.0f} µs, clients {self.client_cpu_us:.0f} µs"
            f" = {self.cores_busy:.2f} cores busy{split}"
        )


@dataclass
class _Sample:
    """One measurement window: every call's latency, and CPU seconds of the server's processes and the clients."""

    seconds: float
    latencies: list[float]
    server_cpu: dict[int, float]
    client_cpu: float


def _unary_sample(
    server: Server, method: str, seconds: float, processes: int, threads: int, own_connections: bool
) -> _Sample:
    queue: Any = mp.get_context("fork").Queue()
    procs = [
        mp.get_context("fork").Process(
            target=_unary_client, args=(server.port, method, seconds, threads, own_connections, queue)
        )
        for _ in range(processes)
    ]
    # The server's CPU window also holds the clients' start-up and warm-up calls: a slight overestimate.
    cpu_before = tree_cpu(server.pid)
    for p in procs:
        p.start()
    latencies: list[float] = []
    bad = 0
    client_cpu = 0.0
    for _ in procs:
        got, wrong, cpu = queue.get(timeout=seconds + 120)
        latencies.extend(got)
        bad += wrong
        client_cpu += cpu
    for p in procs:
        p.join()
    if bad:
        raise AssertionError(f"{bad} Score answers were wrong")
    return _Sample(seconds, latencies, cpu_used(cpu_before, tree_cpu(server.pid)), client_cpu)


def _rate(samples: list[_Sample]) -> Rate:
    latencies = sorted(x for sample in samples for x in sample.latencies)
    n = len(latencies)
    seconds = sum(sample.seconds for sample in samples)
    by_process: dict[int, float] = {}
    for sample in samples:
        for pid, cpu in sample.server_cpu.items():
            by_process[pid] = by_process.get(pid, 0.0) + cpu
    server_cpu = sum(by_process.values())
    client_cpu = sum(sample.client_cpu for sample in samples)
    split = tuple(
        sorted((x / server_cpu for x in by_process.values() if x > 0.05 * server_cpu), reverse=True)
    )
    q = statistics.quantiles(latencies, n=100) if n > 1 else [latencies[0]] * 99
    return Rate(n, n / seconds, q[49] * 1000, q[98] * 1000, server_cpu / n * 1e6, client_cpu / n * 1e6, split)


def unary_rates(
    runs: dict[str, tuple[Server, str]],
    seconds: float,
    processes: int,
    threads: int,
    *,
    own_connections: bool = False,
    rounds: int = 2,
) -> dict[str, Rate]:
    """Each run (a server and a method) measured in ``rounds`` alternating windows totalling ``seconds``.

    A short warm-up window of each run comes first and is not counted; alternating
    the windows makes a change of machine load fall on every run alike.
    """
    for server, method in runs.values():
        _unary_sample(server, method, min(0.5, seconds / 4), processes, threads, own_connections)
    samples: dict[str, list[_Sample]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (server, method) in runs.items():
            samples[name].append(
                _unary_sample(server, method, seconds / rounds, processes, threads, own_connections)
            )
    return {name: _rate(got) for name, got in samples.items()}


def _stream_client(port: int, method: str, seconds: float, out: Any) -> None:
    request = score_request()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    if method == "score":
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        stub.Score(request, timeout=30)
        stream = stub.ScoreStream
    else:
        _unary_callable(channel, "echo")(request, timeout=30)
        stream = channel.stream_stream(
            ECHO_STREAM_METHOD,
            request_serializer=ev.ScoreRequest.SerializeToString,
            response_deserializer=ev.ScoreRequest.FromString,
        )
    stop_at = time.perf_counter() + seconds

    def requests() -> Any:
        while time.perf_counter() < stop_at:
            yield request

    started = time.perf_counter()
    count = bad = 0
    for response in stream(requests(), timeout=seconds + 120):
        count += 1
        if method == "score":
            bad += response.result.score != EXPECTED_SCORE
    elapsed = time.perf_counter() - started
    channel.close()
    out.put((count, elapsed, bad))


def stream_rates(port: int, methods: tuple[str, ...], seconds: float, rounds: int = 2) -> dict[str, float]:
    """Items per second through one bidirectional stream per window (``score``: ScoreStream, ``echo``: EchoStream).

    Like `unary_rates`, each method gets ``rounds`` alternating windows totalling ``seconds``.
    """
    totals = {method: [0, 0.0] for method in methods}
    for _ in range(rounds):
        for method in methods:
            queue: Any = mp.get_context("fork").Queue()
            proc = mp.get_context("fork").Process(
                target=_stream_client, args=(port, method, seconds / rounds, queue)
            )
            proc.start()
            count, elapsed, bad = queue.get(timeout=seconds + 120)
            proc.join()
            if bad:
                raise AssertionError(f"{bad} streamed answers were wrong")
            totals[method][0] += count
            totals[method][1] += elapsed
    return {method: count / elapsed for method, (count, elapsed) in totals.items()}


# ------------------------------------------------------------------ in process


def generated_requests(count: int = 2000) -> list[ev.ScoreRequest]:
    """``count`` different Score requests for khoi3 2023.1 (`dsl.gencases`, seed 1): what the
    single reference payload hides — values the result encoder has not seen before."""
    from dsl.gencases import dump_case, generate_cases
    from dsl.registry import Registry

    ruleset = Registry(RULESETS).get("khoi3", "2023.1").ruleset
    out = []
    for case in generate_cases(ruleset, blocs=(count + 7) // 8, units=8, seed=1):
        data = json.loads(dump_case(case), parse_float=Decimal)
        for sub in data["submissions"]:
            out.append(
                ev.ScoreRequest(
                    ruleset=vals.RulesetRef(name="khoi3", version="2023.1"),
                    unit=sub["unit"],
                    inputs={k: value_from_json(v) for k, v in sub["inputs"].items()},
                )
            )
    return out[:count]


def in_process(rounds: int = 20, batch: int = 500) -> tuple[float, float, float]:
    """CPU µs per `EvaluationServicer.Score` call (the reference payload, and 2,000 generated
    submissions in turn) and per Echo handler call: one thread, interleaved, best round."""
    from service.config import Limits
    from service.servicers.common import RulesetSource
    from service.servicers.evaluation import EvaluationServicer

    servicer = EvaluationServicer(
        RulesetSource(RULESETS, Limits(), recheck_seconds=ServerConfig().rulesets_recheck_seconds)
    )
    request = score_request()
    context: Any = None  # a servicer touches its context only on errors
    if servicer.Score(request, context).result.score != EXPECTED_SCORE:
        raise AssertionError("the in-process Score answer is wrong")
    generated = generated_requests()
    turn = iter(generated * (rounds * batch // len(generated) + 1))
    handlers: dict[str, Callable[[], object]] = {
        "score": lambda: servicer.Score(request, context),
        "generated": lambda: servicer.Score(next(turn), context),
        "echo": lambda: _echo(request, context),
    }
    best = dict.fromkeys(handlers, float("inf"))
    for _ in range(rounds):
        for name, call in handlers.items():
            start = time.process_time()
            for _ in range(batch):
                call()
            best[name] = min(best[name], (time.process_time() - start) / batch * 1e6)
    return best["score"], best["generated"], best["echo"]


# ------------------------------------------------------------------ main


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:5.2f}×  (target ≥ {target}×: {'met' if ratio >= target else 'NOT met'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement (default 3)")
    parser.add_argument("--clients", type=int, default=4, help="client processes for the multi-client runs")
    parser.add_argument("--threads", type=int, default=2, help="threads per client process")
    parser.add_argument(
        "--server-threads",
        type=int,
        default=SERVER_THREADS,
        help=f"request threads per server process (the server's --threads, default {SERVER_THREADS})",
    )
    args = parser.parse_args(argv)
    s, clients, threads, server_threads = args.seconds, args.clients, args.threads, args.server_threads
    print(
        f"bench_grpc: {os.cpu_count()} cores, {s:.0f} s per run, {clients} client processes × {threads} threads,"
        f" {server_threads} request threads per server process, load average {load_average()}"
    )

    score_us, generated_us, echo_us = in_process()
    print(
        f"in process, one thread: Score {score_us:.1f} µs/call, Echo handler {echo_us:.2f} µs/call"
        f" (Score − Echo = {score_us - echo_us:.1f} µs of servicer work per call);"
        f" Score of 2,000 generated submissions in turn {generated_us:.1f} µs/call"
    )

    server = start_server(echo=True, threads=server_threads)
    try:
        many = unary_rates({"score": (server, "score"), "echo": (server, "echo")}, s, clients, threads)
        one_client = unary_rates({"score": (server, "score"), "echo": (server, "echo")}, s, 1, 1)
        streamed = stream_rates(server.port, ("score", "echo"), s)
    finally:
        server.stop()
    score, echo = many["score"], many["echo"]
    single, single_echo = one_client["score"], one_client["echo"]
    print(f"unary Score, {clients}×{threads} clients  {score}")
    print(f"unary Echo,  {clients}×{threads} clients  {echo}")
    print(f"unary Score, 1 client      {single}")
    print(f"unary Echo,  1 client      {single_echo}")
    print(f"ScoreStream, 1 client      {streamed['score']:7.0f}/s")
    print(f"EchoStream,  1 client      {streamed['echo']:7.0f}/s")

    # Both servers run at once (the idle one costs nothing), so their windows can alternate.
    servers = {workers: start_server(workers=workers, threads=server_threads) for workers in (1, 2)}
    try:
        by_workers = unary_rates(
            {str(w): (server, "score") for w, server in servers.items()},
            s,
            clients,
            threads,
            own_connections=True,
        )
    finally:
        for server in servers.values():
            server.stop()
    rates = {int(w): rate for w, rate in by_workers.items()}
    for workers, rate in rates.items():
        print(f"unary Score, --workers {workers}, a connection per client thread  {rate}")

    one, two = rates[1], rates[2]
    cores = os.cpu_count() or 1
    print()
    print(f"Score / Echo (same stack, same payload):  {verdict(score.per_second / echo.per_second, 0.7)}")
    print(
        f"  server CPU per call {score.server_cpu_us:.0f} µs vs {echo.server_cpu_us:.0f} µs:"
        f" Score's servicer work costs {score.server_cpu_us - echo.server_cpu_us:.0f} µs here,"
        f" {score_us - echo_us:.0f} µs in process"
    )
    print(f"ScoreStream / unary Score (1 client):     {verdict(streamed['score'] / single.per_second, 5.0)}")
    print(
        f"  ceiling of this gRPC stack with no work at all, EchoStream / unary Echo (1 client):"
        f" {streamed['echo'] / single_echo.per_second:5.2f}×"
    )
    print(f"--workers 2 / --workers 1:                {verdict(two.per_second / one.per_second, 1.6)}")
    print(
        f"  {cores} cores shared by servers and clients: 2S/(S+C) = "
        f"{2 * one.server_cpu_us / (one.server_cpu_us + one.client_cpu_us):.2f}× with --workers 1's"
        f" S = {one.server_cpu_us:.0f} µs, C = {one.client_cpu_us:.0f} µs per call;"
    )
    print(
        f"  --workers 2 kept {two.cores_busy:.2f} of {cores} cores busy (--workers 1: {one.cores_busy:.2f}),"
        f" so at its own CPU per call it could reach at most"
        f" {cores / (two.cores_busy / two.per_second) / one.per_second:.2f}× --workers 1"
    )
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
