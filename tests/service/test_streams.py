"""service/streams.py: open streams run on their own threads and never starve unary calls or health checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import Client, make_rulesets, serving


def _divz(assigned: int) -> ev.ScoreRequest:
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        unit=f"u{assigned}",
        inputs={"assigned": vals.Value(integer=assigned), "met": vals.Value(integer=1)},
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    # One request thread and two stream threads: before streams had their own pool, one
    # open stream held the only thread and every unary call waited for it to end.
    with serving(make_rulesets(tmp_path / "rulesets"), threads=1, stream_threads=2) as c:
        yield c


def _held_open(client: Client, release: threading.Event) -> Iterator[ev.ScoreResponse]:
    """A ScoreStream that has answered its first item and then waits, open, until ``release``."""

    def requests() -> Iterator[ev.ScoreRequest]:
        yield _divz(4)
        release.wait(20)

    # The deadline bounds the test when streams do hold the request threads (a failure, not a hang).
    responses = client.evaluation.ScoreStream(requests(), timeout=10)
    assert "2.50" == next(responses).result.score  # the server is inside the stream now
    return responses


def test_open_streams_leave_unary_calls_and_health_checks_served(client: Client) -> None:
    """With as many streams open as there are stream threads, Score and the health check still answer."""
    release = threading.Event()
    try:
        streams = [_held_open(client, release) for _ in range(2)]
        assert "5.00" == client.evaluation.Score(_divz(2), timeout=5).result.score
        health = health_pb2_grpc.HealthStub(client.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health_pb2.HealthCheckResponse.SERVING == health.status
    finally:
        release.set()
    for responses in streams:
        assert [] == list(responses)  # each stream then ends normally


def test_a_stream_beyond_the_stream_threads_waits_its_turn(client: Client) -> None:
    """A third stream is answered once one of the two open ones ends, in order and complete."""
    release = threading.Event()
    first = [_held_open(client, release) for _ in range(2)]
    third = client.evaluation.ScoreStream(iter([_divz(1), _divz(2)]), timeout=10)
    with pytest.raises(grpc.RpcError) as waited:
        # Not answered while both stream threads are held: the deadline passes first.
        client.evaluation.ScoreStream(iter([_divz(5)]), timeout=0.5).next()
    assert grpc.StatusCode.DEADLINE_EXCEEDED == waited.value.code()
    release.set()
    for responses in first:
        assert [] == list(responses)
    assert ["10.00", "5.00"] == [r.result.score for r in third]
