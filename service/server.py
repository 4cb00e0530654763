"""The gRPC server: servicers, health, reflection, logging, limits, workers and graceful shutdown.

`build_server` wires one process's server; `serve` runs it until SIGTERM or
SIGINT, then stops accepting calls, lets in-flight calls finish within the
grace period and returns 0. With ``workers`` > 1 the parent forks that many
processes that each run a server on the same port (``grpc.so_reuseport``),
as gRPC Python's multiprocessing example does: the fork happens before any
gRPC object exists in the parent, which only forwards signals and waits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, replace
from types import FrameType

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dsl.errors import ThiduaError
from service.auth import AuthConfigError, interceptors_for
from service.config import ConfigError, ServerConfig
from service.db import Store
from service.db.published import PublishedRulesets
from service.db.recorder import EvaluationRecorder
from service.gen.thidua.v1 import (
    blocs_pb2,
    blocs_pb2_grpc,
    evaluation_pb2,
    evaluation_pb2_grpc,
    insight_pb2,
    insight_pb2_grpc,
    rulesets_pb2,
    rulesets_pb2_grpc,
)
from service.logging import CallLogInterceptor
from service.servicers.blocs import BlocServicer, BlocStore
from service.servicers.common import RulesetSource
from service.servicers.evaluation import EvaluationServicer
from service.servicers.insight import InsightServicer
from service.servicers.rulesets import Publisher, RulesetServicer
from service.streams import StreamPoolInterceptor
from service.tls import TlsConfigError, add_port
from service.wire import DecodeGuardInterceptor

log = structlog.get_logger("thidua.service")

EVALUATION_SERVICE = evaluation_pb2.DESCRIPTOR.services_by_name["EvaluationService"].full_name
RULESET_SERVICE = rulesets_pb2.DESCRIPTOR.services_by_name["RulesetService"].full_name
BLOC_SERVICE = blocs_pb2.DESCRIPTOR.services_by_name["BlocService"].full_name
INSIGHT_SERVICE = insight_pb2.DESCRIPTOR.services_by_name["InsightService"].full_name
SERVICES = (EVALUATION_SERVICE, RULESET_SERVICE, BLOC_SERVICE, INSIGHT_SERVICE)


@dataclass(frozen=True, slots=True)
class Running:
    """A started server: the gRPC server, its health servicer and the port it listens on."""

    server: grpc.Server
    health: health.HealthServicer
    port: int
    #: Writes answered evaluations to the database; flushed by `_stop` (None: no database).
    recorder: EvaluationRecorder | None = None


def build_server(
    config: ServerConfig, *, publisher: Publisher | None = None, reuse_port: bool = False
) -> Running:
    """Create and start a server for ``config``; raises `ConfigError` when the address cannot be bound."""
    limit = config.limits.max_message_bytes
    options = [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ]
    # Security (docs/security.md): bearer-token auth after call logging, so refused calls are logged too.
    try:
        auth = interceptors_for(config.auth, log)
    except AuthConfigError as exc:
        raise ConfigError(exc.message) from None
    # Streaming calls run on their own threads, so open streams never hold the request threads
    # (service.streams); the interceptor is outermost, where gRPC reads the chosen pool.
    stream_pool = futures.ThreadPoolExecutor(
        max_workers=config.stream_threads, thread_name_prefix="thidua-stream"
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="thidua-rpc"),
        # Innermost: undecodable request bytes answer INVALID_ARGUMENT, not gRPC's INTERNAL (service.wire).
        interceptors=[
            StreamPoolInterceptor(stream_pool),
            CallLogInterceptor(),
            *auth,
            DecodeGuardInterceptor(),
        ],
        options=options,
    )
    source = RulesetSource(
        config.rulesets, config.limits, config.cache_size, recheck_seconds=config.rulesets_recheck_seconds
    )
    if isinstance(publisher, Store):
        source.published = PublishedRulesets(publisher, source.cache)
    # The database (service.db.Store) also serves blocs, submissions, history and rotation commits.
    bloc_store = publisher if isinstance(publisher, BlocStore) else None
    recorder = None
    if isinstance(publisher, Store) and config.record_evaluations:
        recorder = EvaluationRecorder(publisher, log=structlog.get_logger("thidua.db"))
    evaluation_pb2_grpc.add_EvaluationServiceServicer_to_server(
        EvaluationServicer(source, bloc_store, recorder), server
    )
    rulesets_pb2_grpc.add_RulesetServiceServicer_to_server(RulesetServicer(source, publisher), server)
    blocs_pb2_grpc.add_BlocServiceServicer_to_server(BlocServicer(bloc_store, config.limits), server)
    insight_pb2_grpc.add_InsightServiceServicer_to_server(InsightServicer(source), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        # TLS when configured (service.tls), plaintext otherwise.
        port = add_port(server, config.address, config.tls)
    except TlsConfigError as exc:
        raise ConfigError(exc.message) from None
    except (RuntimeError, ThiduaError) as exc:
        raise ConfigError(f"cannot listen on {config.address}: {exc}") from None
    if port == 0:
        raise ConfigError(f"cannot listen on {config.address}")
    server.start()
    for name in ("", *SERVICES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, health_servicer, port, recorder)


def _redacted(url: str | None) -> str | None:
    from service.db.engine import redact, resolve_url

    return None if url is None else redact(resolve_url(url))


def _auth_mode(config: ServerConfig) -> str:
    if config.auth is None or config.auth.insecure_no_auth:
        return "off"
    return f"{len(config.auth.tokens)} tokens"


def _tls_mode(config: ServerConfig) -> str:
    if config.tls is None:
        return "off"
    return "mutual" if config.tls.mutual else "on"


def _stop(running: Running, grace: float) -> None:
    # Health first, so that load balancers stop sending before the port closes.
    running.health.enter_graceful_shutdown()
    running.server.stop(grace).wait()
    if running.recorder is not None:
        running.recorder.close()


def serve_one(
    config: ServerConfig,
    *,
    publisher: Publisher | None = None,
    reuse_port: bool = False,
    parent_pid: int | None = None,
) -> int:
    """Run one server process until SIGTERM/SIGINT; finish in-flight calls within the grace; return 0.

    A worker passes its parent's pid: when that parent is gone (killed with
    SIGKILL, so it could forward nothing), the worker stops gracefully on its
    own instead of serving on as an orphan.
    """
    stopping = threading.Event()
    running = build_server(config, publisher=publisher, reuse_port=reuse_port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second signal: the operator does not want to wait for the grace period.
            running.server.stop(0)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "serving",
        address=f"{config.host}:{running.port}",
        pid=os.getpid(),
        rulesets=str(config.rulesets),
        threads=config.threads,
        database=_redacted(config.database_url),
        auth=_auth_mode(config),
        tls=_tls_mode(config),
    )
    while not stopping.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("parent process gone; stopping", parent_pid=parent_pid, pid=os.getpid())
            stopping.set()
    log.info("stopping", grace_seconds=config.grace_seconds, pid=os.getpid())
    _stop(running, config.grace_seconds)
    log.info("stopped", pid=os.getpid())
    return 0


@contextlib.contextmanager
def _reserved_port(config: ServerConfig) -> Iterator[int]:
    """Hold the port with SO_REUSEPORT while workers start, so port 0 resolves once for all of them."""
    host, port = config.host, config.port
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {config.address}: {exc.strerror or exc}") from None
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def serve_workers(config: ServerConfig, *, publisher: Publisher | None = None) -> int:
    """Fork ``config.workers`` server processes on one port; forward SIGTERM/SIGINT; 0 when all exit 0."""
    children: list[int] = []
    parent = os.getpid()
    with _reserved_port(config) as port:
        worker_config = replace(config, address=f"{config.host}:{port}", workers=1)
        for index in range(config.workers):
            pid = os.fork()
            if pid == 0:  # the worker
                code = 1
                try:
                    structlog.contextvars.bind_contextvars(worker=index)
                    code = serve_one(worker_config, publisher=publisher, reuse_port=True, parent_pid=parent)
                except ConfigError as exc:
                    log.error("cannot start worker", error=str(exc))
                except BaseException:  # a worker must never return into the parent's code
                    log.exception("worker crashed")
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            children.append(pid)
        log.info("workers started", address=worker_config.address, workers=config.workers, pids=children)

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _pid, raw = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(raw)
        if code != 0:
            log.error("worker exited", pid=child, code=code)
            status = 1
    return status


def serve(config: ServerConfig, *, publisher: Publisher | None = None) -> int:
    """Run the service as configured (one process, or ``workers`` processes on one port)."""
    if config.workers > 1:
        return serve_workers(config, publisher=publisher)
    return serve_one(config, publisher=publisher)
