"""service.db.recorder: every answered evaluation written off the request path, in batches, surviving outages."""

from __future__ import annotations

import hashlib
import socket
import time
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from service.config import ServerConfig
from service.db import NewEvaluation, Store
from service.db.recorder import EvaluationRecorder
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import _stop, build_server
from tests.service.grpc_helpers import make_rulesets
from tests.service.tcp_proxy import TcpProxy

SHA = hashlib.sha256(b"ruleset").hexdigest()


def _item(i: int, request: object = None) -> NewEvaluation:
    return NewEvaluation(
        "score",
        ("khoi3", "2023.1", SHA),
        request if request is not None else {"i": i},
        {"score": Decimal("1.50")},
    )


def test_close_writes_everything_queued(store: Store) -> None:
    """1,200 records queued at once are all written (in batches) by the time close returns."""
    recorder = EvaluationRecorder(store)
    for i in range(1200):
        recorder.record(_item(i))
    recorder.close()
    assert (1200, 0) == (recorder.recorded, recorder.dropped)
    stored = store.evaluations()
    assert 1200 == len(stored)
    assert ({"i": 0}, {"score": Decimal("1.50")}) == (stored[0].request, stored[0].result)


def test_an_unrenderable_record_is_dropped_and_the_rest_written(store: Store) -> None:
    """A record holding a float cannot be stored; it is counted as dropped and later records still land."""
    recorder = EvaluationRecorder(store)
    recorder.record(_item(0, request={"x": 0.5}))
    recorder.close()
    again = EvaluationRecorder(store)
    again.record(_item(1))
    again.close()
    assert (1, 1) == (recorder.dropped, again.recorded)


def test_a_full_queue_drops_instead_of_blocking() -> None:
    """With the database unreachable and the queue full, record returns at once and counts the drops."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    down = Store(f"postgresql://postgres@127.0.0.1:{port}/test")
    recorder = EvaluationRecorder(down, max_pending=5)
    started = time.monotonic()
    for i in range(50):
        recorder.record(_item(i))
    assert 1.0 > time.monotonic() - started
    recorder.close(timeout=5)
    assert 50 == recorder.dropped + recorder.recorded
    assert 40 <= recorder.dropped
    down.close()


def test_records_wait_for_the_database_to_return(proxied_postgres: tuple[str, TcpProxy]) -> None:
    """Records made while the database is away are written once it is back."""
    url, proxy = proxied_postgres
    store = Store(url)
    recorder = EvaluationRecorder(store)
    proxy.cut()
    for i in range(3):
        recorder.record(_item(i))
    time.sleep(1.5)  # at least one failed attempt
    proxy.restore()
    deadline = time.monotonic() + 20
    while recorder.recorded < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    recorder.close()
    assert (3, 0) == (recorder.recorded, recorder.dropped)
    assert 3 == len(store.evaluations())
    store.close()


def test_the_server_records_each_score(tmp_path: Path, store: Store) -> None:
    """A Score answered by a server with a database is recorded with the ruleset's SHA-256 and the inputs."""
    folder = make_rulesets(tmp_path / "rulesets")
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder), publisher=store)
    request = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        unit="ubkt",
        inputs={"assigned": vals.Value(integer=4), "met": vals.Value(integer=1)},
    )
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        reply = evaluation_pb2_grpc.EvaluationServiceStub(channel).Score(request, timeout=30)
    _stop(running, 1)
    [stored] = store.evaluations()
    assert ("score", reply.ruleset.sha256, {"assigned": 4, "met": 1}, "2.50") == (
        stored.kind,
        stored.ruleset_sha256,
        stored.request["inputs"],
        stored.result["score"],
    )


def test_recording_can_be_switched_off(tmp_path: Path, store: Store) -> None:
    """With record_evaluations off, answers are not stored."""
    folder = make_rulesets(tmp_path / "rulesets")
    config = ServerConfig(address="127.0.0.1:0", rulesets=folder, record_evaluations=False)
    running = build_server(config, publisher=store)
    assert None is running.recorder
    _stop(running, 1)


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("off", False), ("1", True)])
def test_environment_switch(value: str, expected: bool) -> None:
    """THIDUA_RECORD_EVALUATIONS=0 turns recording off; 1 keeps it on."""
    from service.config import build_config

    assert (
        expected
        == build_config(None, {"THIDUA_RECORD_EVALUATIONS": value}, stderr_is_tty=False).record_evaluations
    )


def test_one_bad_record_does_not_cost_its_batch(store: Store) -> None:
    """In one batch, an unstorable record is dropped and counted; the good ones are written."""
    recorder = EvaluationRecorder(store)
    recorder.record(_item(0, request={"x": 0.5}))
    recorder.record(_item(1))
    recorder.record(NewEvaluation("score", ("x" * 300, "1", SHA), {}, {}))
    recorder.record(_item(2))
    recorder.close()
    assert (2, 2) == (recorder.recorded, recorder.dropped)
    assert [{"i": 1}, {"i": 2}] == [e.request for e in store.evaluations()]
