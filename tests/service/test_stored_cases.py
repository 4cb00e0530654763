"""CheckEligibility and ComputeRotation on stored data: the case from the database, and which stage was used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from service.config import ServerConfig
from service.db import NewSubmission, Store
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.server import _stop, build_server
from tests.service.grpc_helpers import KHOI3, ROOT, load_case, make_rulesets


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gRPC tests' rulesets folder (with khoi3 2023.1)."""
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


@pytest.fixture
def channel(folder: Path, store: Store) -> Iterator[grpc.Channel]:
    """A server on ``store`` holding the reference bloc: members, 2022/2023 holders, 2023 self-assessments."""
    case = load_case()
    store.put_bloc(case["bloc"], case["members"])
    for entry in case["history"]:
        store.commit_holders(case["bloc"], entry["period"], entry.get("leader"), entry.get("deputy"))
    store.commit_holders(case["bloc"], case["period"], case["current"]["leader"], case["current"]["deputy"])
    items = [NewSubmission(s["unit"], s["inputs"]) for s in case["submissions"]]
    store.store_submissions(case["bloc"], case["period"], items)
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder), publisher=store)
    opened = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield opened
    opened.close()
    _stop(running, 0)


@pytest.fixture
def stub(channel: grpc.Channel) -> evaluation_pb2_grpc.EvaluationServiceStub:
    """EvaluationService on the server holding the reference bloc."""
    return evaluation_pb2_grpc.EvaluationServiceStub(channel)


def _stored(stage: int = ev.STAGE_UNSPECIFIED) -> ev.StoredCaseRef:
    return ev.StoredCaseRef(bloc="khoi3", period="2023", stage=stage)


def test_stored_case_decides_like_the_inline_case(stub: evaluation_pb2_grpc.EvaluationServiceStub) -> None:
    """The stored bloc gives the same ranking and awards as the reference case file, and names what it used."""
    from service.convert import case_from_json

    inline = stub.CheckEligibility(
        ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=case_from_json(load_case()))
    )
    stored = stub.CheckEligibility(
        ev.CheckEligibilityRequest(ruleset=KHOI3, stored_case=_stored()), timeout=60
    )
    assert [(u.unit, u.rank, u.score) for u in inline.units] == [
        (u.unit, u.rank, u.score) for u in stored.units
    ]
    assert list(inline.titles) == list(stored.titles)
    assert {ev.STAGE_SELF} == {u.stage for u in stored.submissions_used}
    assert set(load_case()["members"]) == {u.unit for u in stored.submissions_used}


def test_a_later_stage_is_used_and_reported(
    stub: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """A reviewed submission replaces the unit's self-assessment; asking for stage self brings it back."""
    ubkt = next(s for s in load_case()["submissions"] if s["unit"] == "ubkt")
    reviewed = {**ubkt["inputs"], "initiatives": ubkt["inputs"].get("initiatives", 0) + 1}
    store.store_submission("khoi3", "2023", "ubkt", reviewed, stage="reviewed")
    latest = stub.CheckEligibility(
        ev.CheckEligibilityRequest(ruleset=KHOI3, stored_case=_stored()), timeout=60
    )
    used = {u.unit: (u.stage, u.revision) for u in latest.submissions_used}
    assert (ev.STAGE_REVIEWED, 1) == used["ubkt"]
    assert (ev.STAGE_SELF, 1) == used["tham_muu"]
    selfs = stub.CheckEligibility(
        ev.CheckEligibilityRequest(ruleset=KHOI3, stored_case=_stored(ev.STAGE_SELF)), timeout=60
    )
    assert {ev.STAGE_SELF} == {u.stage for u in selfs.submissions_used}


def test_rotation_from_stored_data_commits_next_period(
    stub: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """ComputeRotation on the stored bloc, with commit, records 2024's holders as announced."""
    response = stub.ComputeRotation(
        ev.ComputeRotationRequest(ruleset=KHOI3, stored_case=_stored(), commit=True), timeout=60
    )
    assert ("hau_can", "tham_muu", "2024") == (
        response.leader.unit,
        response.deputy.unit,
        response.committed_period,
    )
    assert ["2024", "2023", "2022"] == [h.period for h in store.history("khoi3")]


def test_both_cases_at_once_is_invalid(stub: evaluation_pb2_grpc.EvaluationServiceStub) -> None:
    """A request with an inline case and a stored one is INVALID_ARGUMENT naming stored_case."""
    request = ev.CheckEligibilityRequest(
        ruleset=KHOI3, bloc_case=ev.BlocCase(bloc="khoi3"), stored_case=_stored()
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CheckEligibility(request, timeout=60)
    assert grpc.StatusCode.INVALID_ARGUMENT == caught.value.code()
    assert "either bloc_case or stored_case" in caught.value.details()


def test_unknown_stored_bloc_is_not_found(stub: evaluation_pb2_grpc.EvaluationServiceStub) -> None:
    """A stored case naming a bloc the database does not hold is NOT_FOUND."""
    request = ev.CheckEligibilityRequest(
        ruleset=KHOI3, stored_case=ev.StoredCaseRef(bloc="khoi9", period="2023")
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CheckEligibility(request, timeout=60)
    assert grpc.StatusCode.NOT_FOUND == caught.value.code()


def test_without_a_database_stored_cases_fail_precondition(folder: Path) -> None:
    """A server without a database answers a stored case with FAILED_PRECONDITION."""
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.CheckEligibility(
                    ev.CheckEligibilityRequest(ruleset=KHOI3, stored_case=_stored()), timeout=60
                )
        assert grpc.StatusCode.FAILED_PRECONDITION == caught.value.code()
    finally:
        _stop(running, 0)


def test_compare_rulesets_on_stored_submissions(channel: grpc.Channel) -> None:
    """CompareRulesets with stored_cases runs both versions on the bloc's stored submissions for the period."""
    from service.convert import case_from_json
    from service.gen.thidua.v1 import rulesets_pb2 as rs
    from service.gen.thidua.v1 import rulesets_pb2_grpc

    stub = rulesets_pb2_grpc.RulesetServiceStub(channel)
    candidate = (ROOT / "rulesets" / "khoi3" / "2023.1.rules").read_text(encoding="utf-8")
    candidate = candidate.replace("require score >= 92", "require score >= 99")
    stored = stub.CompareRulesets(
        rs.CompareRulesetsRequest(
            base=KHOI3, candidate_source=candidate, stored_cases=rs.StoredCases(bloc="khoi3", period="2023")
        ),
        timeout=60,
    )
    inline = stub.CompareRulesets(
        rs.CompareRulesetsRequest(
            base=KHOI3, candidate_source=candidate, cases=[case_from_json(load_case())]
        ),
        timeout=60,
    )
    assert 6 == stored.summary.units
    assert 1 == stored.summary.titles_lost  # tccb no longer reaches 99 points for co_ubnd
    assert [(u.unit, list(u.titles)) for u in inline.units] == [
        (u.unit, list(u.titles)) for u in stored.units
    ]


def test_compare_rulesets_with_both_kinds_of_case_is_invalid(channel: grpc.Channel) -> None:
    """Inline cases and stored_cases together are refused with INVALID_ARGUMENT naming stored_cases."""
    from service.convert import case_from_json
    from service.gen.thidua.v1 import rulesets_pb2 as rs
    from service.gen.thidua.v1 import rulesets_pb2_grpc

    stub = rulesets_pb2_grpc.RulesetServiceStub(channel)
    request = rs.CompareRulesetsRequest(
        base=KHOI3,
        candidate_ref=KHOI3,
        cases=[case_from_json(load_case())],
        stored_cases=rs.StoredCases(bloc="khoi3", period="2023"),
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.CompareRulesets(request, timeout=60)
    assert grpc.StatusCode.INVALID_ARGUMENT == err.value.code()
    assert "stored_cases" in (err.value.details() or "")
