"""The server as a whole: health, reflection, `thidua serve` as a process, SIGTERM, workers, logs."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from service.auth import INSECURE_WARNING
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import Client, free_port, make_rulesets, serving

THIDUA = [sys.executable, "-m", "service.cli"]
#: `thidua serve` without loading every other command (faster to start; same code path).
SERVE = [sys.executable, "-m", "service.commands.serve"]
# These tests are about serving, not auth (tests/service/test_serve_security.py): run without tokens.
INSECURE = "--insecure-no-auth"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


@pytest.fixture(scope="module")
def client(folder: Path) -> Iterator[Client]:
    with serving(folder) as c:
        yield c


def test_health_reports_serving_for_the_server_and_each_service(client: Client) -> None:
    """grpc.health.v1: SERVING overall and for both thidua services; unknown service is NOT_FOUND."""
    stub = health_pb2_grpc.HealthStub(client.channel)
    for service in ("", "thidua.v1.EvaluationService", "thidua.v1.RulesetService"):
        assert (
            health_pb2.HealthCheckResponse.SERVING
            == stub.Check(health_pb2.HealthCheckRequest(service=service)).status
        )
    with pytest.raises(grpc.RpcError) as info:
        stub.Check(health_pb2.HealthCheckRequest(service="nope.Service"))
    assert grpc.StatusCode.NOT_FOUND == info.value.code()


def test_reflection_lists_the_services_and_serves_their_descriptors(client: Client) -> None:
    """Server reflection lists thidua.v1 services, health and reflection, and resolves message types."""
    db = ProtoReflectionDescriptorDatabase(client.channel)
    services = set(db.get_services())
    assert {
        "thidua.v1.EvaluationService",
        "thidua.v1.RulesetService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= services
    file = db.FindFileContainingSymbol("thidua.v1.Value")
    assert "thidua/v1/values.proto" == file.name
    assert "decimal" in [f.name for f in next(m for m in file.message_type if m.name == "Value").field]


# ------------------------------------------------------------------ `thidua serve` as a process


def _start(folder: Path, *extra: str, cli: bool = False) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    command = [*THIDUA, "serve"] if cli else SERVE
    proc = subprocess.Popen(
        [*command, "--address", f"127.0.0.1:{port}", "--rulesets", str(folder), INSECURE, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, port


def _wait_serving(port: int, proc: subprocess.Popen[str], timeout: float = 20) -> grpc.Channel:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()[1]}")
        try:
            if (
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                == health_pb2.HealthCheckResponse.SERVING
            ):
                return channel
        except grpc.RpcError:
            time.sleep(0.1)
    raise AssertionError("server did not become SERVING")


def _divz(assigned: int, text: str = "") -> ev.ScoreRequest:
    value = vals.Value(text=text) if text else vals.Value(integer=assigned)
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        inputs={"assigned": value, "met": vals.Value(integer=1)},
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_sigterm_finishes_the_call_in_flight_and_exits_zero(folder: Path) -> None:
    """On SIGTERM the server refuses new calls, lets an open stream finish within the grace, exits 0."""
    proc, port = _start(folder, "--grace-seconds", "20", "--log-format", "json", cli=True)
    try:
        channel = _wait_serving(port, proc)
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        outbox: queue.Queue[ev.ScoreRequest | None] = queue.Queue()

        def requests() -> Iterator[ev.ScoreRequest]:
            while (item := outbox.get(timeout=20)) is not None:
                yield item

        responses = stub.ScoreStream(requests())
        outbox.put(_divz(4))
        assert "2.50" == next(responses).result.score
        proc.send_signal(signal.SIGTERM)
        # New calls are refused once the server has stopped accepting (poll: the machine may be busy).
        deadline = time.monotonic() + 20
        refused = None
        while refused is None and time.monotonic() < deadline:
            other = grpc.insecure_channel(f"127.0.0.1:{port}")
            try:
                evaluation_pb2_grpc.EvaluationServiceStub(other).Score(_divz(4), timeout=5)
                time.sleep(0.2)
            except grpc.RpcError as exc:
                refused = exc.code()
            finally:
                other.close()
        # gRPC refuses a new call either before (UNAVAILABLE) or right after accepting it (CANCELLED).
        assert refused in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        outbox.put(_divz(2))  # the call in flight still gets answers
        assert "5.00" == next(responses).result.score
        outbox.put(None)
        assert [] == list(responses)
        _out, err = proc.communicate(timeout=30)
        assert 0 == proc.returncode, err
        events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        lifecycle = [e["event"] for e in events if e["event"] not in ("rpc", INSECURE_WARNING)]
        assert ["serving", "stopping", "stopped"] == lifecycle
    finally:
        _kill(proc)


def test_one_json_event_per_call_without_submission_contents(folder: Path) -> None:
    """Each call logs method, code, duration, ruleset SHA-256 and request id; inputs never appear at info."""
    proc, port = _start(folder, "--log-format", "json")
    try:
        channel = _wait_serving(port, proc)
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        response, call = stub.Score.with_call(_divz(4), metadata=(("x-request-id", "req-42"),))
        with pytest.raises(grpc.RpcError):
            stub.Score(_divz(0, text="secret-value-xyz"))
        code, err = _stop(proc)
    finally:
        _kill(proc)
    assert 0 == code
    assert "secret-value-xyz" not in err
    events = [json.loads(line) for line in err.splitlines()]
    rpcs = [e for e in events if e["event"] == "rpc" and e["method"].startswith("/thidua.v1.")]
    assert 2 == len(rpcs)
    ok, bad = rpcs
    assert ("/thidua.v1.EvaluationService/Score", "OK", "req-42") == (
        ok["method"],
        ok["code"],
        ok["request_id"],
    )
    assert response.ruleset.sha256 == ok["ruleset_sha256"]
    assert isinstance(ok["duration_ms"], float)
    assert ("INVALID_ARGUMENT", "warning") == (bad["code"], bad["level"])
    assert ("x-request-id", "req-42") in [(m.key, m.value) for m in call.trailing_metadata()]


def test_environment_configures_the_server_and_console_logs_are_for_people(folder: Path) -> None:
    """THIDUA_ADDRESS, THIDUA_RULESETS and THIDUA_LOG_FORMAT=console apply when no flag is given."""
    port = free_port()
    env = {
        **os.environ,
        "THIDUA_ADDRESS": f"127.0.0.1:{port}",
        "THIDUA_RULESETS": str(folder),
        "THIDUA_LOG_FORMAT": "console",
    }
    proc = subprocess.Popen(
        [*SERVE, INSECURE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        channel = _wait_serving(port, proc)
        assert "2.50" == evaluation_pb2_grpc.EvaluationServiceStub(channel).Score(_divz(4)).result.score
        code, err = _stop(proc)
    finally:
        _kill(proc)
    assert 0 == code
    line = next(line for line in err.splitlines() if "serving" in line)
    assert "[info" in line
    assert not line.startswith("{")


def test_two_workers_share_one_port_and_stop_together(folder: Path) -> None:
    """--workers 2 runs two processes on one port (SO_REUSEPORT); SIGTERM stops both, exit 0."""
    proc, port = _start(folder, "--workers", "2", "--log-format", "json")
    try:
        channel = _wait_serving(port, proc)
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        assert "2.50" == stub.Score(_divz(4)).result.score
        # A few fresh connections: the kernel spreads them over the workers' sockets.
        for _ in range(4):
            fresh = grpc.insecure_channel(f"127.0.0.1:{port}")
            assert "2.50" == evaluation_pb2_grpc.EvaluationServiceStub(fresh).Score(_divz(4)).result.score
            fresh.close()
        code, err = _stop(proc)
    finally:
        _kill(proc)
    assert 0 == code, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    serving_pids = {e["pid"] for e in events if e["event"] == "serving"}
    stopped_pids = {e["pid"] for e in events if e["event"] == "stopped"}
    assert 2 == len(serving_pids)
    assert serving_pids == stopped_pids
    assert {f"127.0.0.1:{port}"} == {e["address"] for e in events if e["event"] == "serving"}


@pytest.fixture
def serve_main(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`thidua serve`'s entry point run in this process, its global log set-up left alone."""
    from service import logging as service_logging
    from service.commands import serve

    monkeypatch.setattr(service_logging, "configure", lambda *args, **kwargs: None)
    return serve.main


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--workers", "0"), "workers must be at least 1"),
        (("--rulesets", "/nonexistent/rulesets"), "does not exist"),
        (("--address", "127.0.0.1:99999"), "65535"),
        (("--log-format", "xml"), "json, console"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    serve_main: Any, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str
) -> None:
    """A bad flag is one line on stderr and exit status 2, no traceback."""
    assert 2 == serve_main([*argv, INSECURE])
    err = capsys.readouterr().err
    assert words in err
    assert 1 == len(err.strip().splitlines())


def test_a_port_in_use_is_a_clear_error(
    folder: Path, serve_main: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Starting on a port another server holds fails with one line, exit 2."""
    with serving(folder) as running:
        port = running.running.port
        assert 2 == serve_main(["--address", f"127.0.0.1:{port}", "--rulesets", str(folder), INSECURE])
    err = capsys.readouterr().err
    assert "cannot listen" in err
    assert "Traceback" not in err


def test_a_worker_whose_parent_is_gone_stops_by_itself(folder: Path) -> None:
    """A worker told of a parent that is no longer its parent (SIGKILLed) stops gracefully, returning 0."""
    from service.config import ServerConfig
    from service.server import serve_one

    previous = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    try:
        config = ServerConfig(address="127.0.0.1:0", rulesets=folder, grace_seconds=1)
        started = time.monotonic()
        # No real parent has this pid: to the worker, its parent has died.
        assert 0 == serve_one(config, parent_pid=os.getppid() + 10_000_000)
        assert time.monotonic() - started < 15
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
