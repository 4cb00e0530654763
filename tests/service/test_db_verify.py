"""service.db.verify and `thidua db verify`: every kind of recorded evaluation re-runs to the same result."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from service import cli
from service.config import ServerConfig
from service.convert import case_from_json
from service.db import Store
from service.db.importer import import_rulesets
from service.db.verify import verify
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import _stop, build_server
from tests.service.grpc_helpers import KHOI3, load_case, make_rulesets


@pytest.fixture
def recorded(tmp_path: Path, store: Store) -> Store:
    """A store holding one recorded evaluation of each kind, made through the API."""
    folder = make_rulesets(tmp_path / "rulesets")
    import_rulesets(store, folder)
    case = load_case()
    store.put_bloc(case["bloc"], case["members"])
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder), publisher=store)
    bloc = case_from_json(case)
    one = ev.BlocCase(submissions=[bloc.submissions[0]])
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        stub.Score(
            ev.ScoreRequest(
                ruleset=vals.RulesetRef(name="divz", version="1"),
                inputs={"assigned": vals.Value(integer=4), "met": vals.Value(integer=3)},
            ),
            timeout=60,
        )
        stub.CheckEligibility(ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=bloc), timeout=60)
        stub.CheckEligibility(ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=one), timeout=60)
        stub.ComputeRotation(ev.ComputeRotationRequest(ruleset=KHOI3, bloc_case=bloc), timeout=60)
        stub.ComputeRotation(
            ev.ComputeRotationRequest(ruleset=KHOI3, bloc_case=bloc, commit=True), timeout=60
        )
    _stop(running, 5)  # flushes the recorder
    return store


def test_every_kind_verifies(recorded: Store) -> None:
    """Score, unit eligibility, bloc, rotation and committed rotation all re-run to their stored results."""
    evaluations = recorded.evaluations()
    assert ["bloc", "eligibility", "rotation", "rotation", "score"] == sorted(e.kind for e in evaluations)
    assert [True] * 5 == [verify(recorded, e.id).matches for e in evaluations]


def test_a_tampered_result_differs(recorded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """A stored result changed behind the service's back no longer verifies; the command exits 1."""
    score = next(e for e in recorded.evaluations() if e.kind == "score")
    with recorded.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE evaluation SET result = :r WHERE id = :id"),
            {"r": '{"score":"9.99"}', "id": score.id},
        )
    assert False is verify(recorded, score.id).matches
    url = recorded.engine.url.render_as_string(hide_password=False)
    assert 1 == cli.main(["db", "verify", "--database-url", url])
    out = capsys.readouterr().out
    assert f"DIFFERS evaluation {score.id} (score, divz@1" in out
    assert "4 verified, 1 differ" in out


def test_verify_command_on_a_clean_record(recorded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """`thidua db verify ID` prints ok and exits 0 for an untouched evaluation."""
    first = recorded.evaluations()[0]
    url = recorded.engine.url.render_as_string(hide_password=False)
    assert 0 == cli.main(["db", "verify", "--database-url", url, str(first.id)])
    assert f"ok      evaluation {first.id}" in capsys.readouterr().out
