"""EvaluationService against a real server on a loopback port: answers, errors, streaming."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dsl.api import load_ruleset
from service.config import Limits
from service.convert import STATUS_NAMES, case_from_json, value_from_json
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import KHOI3, ROOT, Client, load_case, make_rulesets, serving


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    folder = make_rulesets(tmp_path_factory.mktemp("rulesets"))
    with serving(folder, Limits(max_list_length=50)) as c:
        yield c


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    return load_case()


def _inputs(raw: dict[str, Any]) -> dict[str, vals.Value]:
    return {k: value_from_json(v) for k, v in raw.items()}


def _submission(case: dict[str, Any], unit: str) -> dict[str, Any]:
    return next(s["inputs"] for s in case["submissions"] if s["unit"] == unit)


def _violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    out: list[tuple[str, str]] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.extend((v.field, v.description) for v in bad.field_violations)
    return out


def test_score_matches_the_engine(client: Client, case: dict[str, Any]) -> None:
    """Score returns what the Python API computes for the same submission, naming the ruleset."""
    inputs = _submission(case, "tham_muu")
    response = client.evaluation.Score(
        ev.ScoreRequest(ruleset=KHOI3, unit="tham_muu", inputs=_inputs(inputs))
    )
    expected = (
        load_ruleset(ROOT / "rulesets" / "khoi3" / "2023.1.rules").score(inputs, unit="tham_muu").to_json()
    )
    result = response.result
    assert ("khoi3", "2023.1") == (response.ruleset.name, response.ruleset.version)
    assert 64 == len(response.ruleset.sha256)
    assert "102.88" == result.score == expected["score"]
    assert expected["level"] == result.level
    assert expected["groups"] == {g.name: g.value for g in result.groups}
    criteria = {c.name: c.points for c in result.criteria}
    assert expected["criteria"] == {k: v for k, v in criteria.items() if k in expected["criteria"]}
    # Bonus and penalty criteria are listed too, after the groups', with their section.
    assert [
        ("commendations", "bonus", "2.00"),
        ("innovation", "bonus", "1.00"),
        ("violation", "penalty", "0.00"),
    ] == [(c.name, c.section, c.points) for c in result.criteria[-3:]]
    assert "leadership" == result.criteria[0].section
    assert (expected["bonus"], expected["penalty"]) == (result.bonus, result.penalty)
    assert expected["titles"] == {t.name: STATUS_NAMES[t.status] for t in result.titles}
    assert 0 == result.rank
    assert "" == result.groups[0].label, "explanations only when asked"


def test_score_with_explain_shows_raw_values_and_requirements(client: Client, case: dict[str, Any]) -> None:
    """explain adds raw values, clamping, table rows, level steps and title requirement results."""
    request = ev.ScoreRequest(ruleset=KHOI3, inputs=_inputs(_submission(case, "tham_muu")), explain=True)
    result = client.evaluation.Score(request).result
    advisory = next(c for c in result.criteria if c.name == "advisory")
    assert ("6", True, "5.00") == (advisory.raw, advisory.clamped, advisory.points)
    targets = next(c for c in result.criteria if c.name == "targets")
    assert targets.HasField("table_row")
    assert "excellent" == result.level_decision.level
    quyet_thang = next(t for t in result.titles if t.name == "quyet_thang")
    assert quyet_thang.requirements
    assert all(r.HasField("passed") for r in quyet_thang.requirements)
    assert "advanced_members" in quyet_thang.requirements[3].values


def test_empty_version_means_latest(client: Client) -> None:
    """An empty version resolves to the highest version in the folder, named in the response."""
    request = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz"),
        inputs={"assigned": vals.Value(integer=4), "met": vals.Value(decimal="2")},
    )
    response = client.evaluation.Score(request)
    assert "2" == response.ruleset.version
    assert "2.50" == response.result.score


def test_invalid_inputs_list_every_violation(client: Client, case: dict[str, Any]) -> None:
    """INVALID_ARGUMENT carries one BadRequest violation per problem, paths under inputs."""
    inputs = _inputs(_submission(case, "tham_muu"))
    del inputs["members"]
    inputs["reviews_held"] = vals.Value(decimal="1e5")
    inputs["targets_mett"] = vals.Value(integer=1)
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(ev.ScoreRequest(ruleset=KHOI3, inputs=inputs))
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    fields = [f for f, _ in _violations(info.value)]
    assert ["inputs.reviews_held"] == fields, "a malformed value is reported before the engine runs"
    inputs["reviews_held"] = vals.Value(integer=1)
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(ev.ScoreRequest(ruleset=KHOI3, inputs=inputs))
    fields = sorted(f for f, _ in _violations(info.value))
    assert "inputs.members" in fields
    assert "inputs.targets_mett" in fields


def test_empty_value_is_invalid(client: Client) -> None:
    """A Value with no kind set is a violation naming the field."""
    request = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz"), inputs={"assigned": vals.Value(), "met": vals.Value(integer=1)}
    )
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(request)
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert ["inputs.assigned"] == [f for f, _ in _violations(info.value)]


@pytest.mark.parametrize(
    ("ref", "code"),
    [
        (vals.RulesetRef(name="nope"), grpc.StatusCode.NOT_FOUND),
        (vals.RulesetRef(name="khoi3", version="1999.1"), grpc.StatusCode.NOT_FOUND),
        (vals.RulesetRef(name="khoi3", version="../../etc"), grpc.StatusCode.NOT_FOUND),
        (vals.RulesetRef(name=""), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_unknown_rulesets(client: Client, ref: vals.RulesetRef, code: grpc.StatusCode) -> None:
    """An unknown name or version is NOT_FOUND; a missing name is INVALID_ARGUMENT."""
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(ev.ScoreRequest(ruleset=ref))
    assert code == info.value.code()


def test_division_by_zero_is_failed_precondition_naming_the_criterion(client: Client) -> None:
    """An evaluation error answers FAILED_PRECONDITION and names the criterion."""
    request = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        inputs={"assigned": vals.Value(integer=0), "met": vals.Value(integer=1)},
    )
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(request)
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "criterion 'rate'" in (info.value.details() or "")


def test_bloc_ruleset_cannot_score_a_unit_alone(client: Client) -> None:
    """A ruleset with bloc aggregates answers FAILED_PRECONDITION for a unit alone."""
    request = ev.ScoreRequest(ruleset=vals.RulesetRef(name="aggr"), inputs={"tasks": vals.Value(integer=3)})
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(request)
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "bloc" in (info.value.details() or "")


def test_list_length_limit_names_the_limit(client: Client, case: dict[str, Any]) -> None:
    """A list longer than max_list_length is INVALID_ARGUMENT naming the limit and the field."""
    inputs = _inputs(_submission(case, "tham_muu"))
    inputs["discipline"] = value_from_json([{"form": "warning"}] * 51)
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(ev.ScoreRequest(ruleset=KHOI3, inputs=inputs))
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert "max_list_length" in (info.value.details() or "")
    assert ["inputs.discipline"] == [f for f, _ in _violations(info.value)]


def test_request_id_is_echoed_in_trailing_metadata(client: Client) -> None:
    """The x-request-id the client sends comes back in trailing metadata, on errors too."""
    call = client.evaluation.ScoreStream(iter(()), metadata=(("x-request-id", "abc-123"),))
    assert [] == list(call)
    assert ("x-request-id", "abc-123") in [(m.key, m.value) for m in call.trailing_metadata()]
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(
            ev.ScoreRequest(ruleset=vals.RulesetRef(name="nope")), metadata=(("x-request-id", "r-9"),)
        )
    assert ("x-request-id", "r-9") in [(m.key, m.value) for m in info.value.trailing_metadata()]  # type: ignore[attr-defined]


def test_request_id_is_generated_when_absent(client: Client) -> None:
    """Without x-request-id the server makes one up and returns it."""
    _, call = client.evaluation.Score.with_call(
        ev.ScoreRequest(
            ruleset=vals.RulesetRef(name="divz"),
            inputs={"assigned": vals.Value(integer=1), "met": vals.Value(integer=1)},
        )
    )
    ids = [m.value for m in call.trailing_metadata() if m.key == "x-request-id"]
    assert 1 == len(ids)
    assert 32 == len(ids[0])


# ------------------------------------------------------------------ ScoreStream


def _divz(assigned: int, met: int = 1) -> ev.ScoreRequest:
    return ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz", version="1"),
        unit=f"u{assigned}",
        inputs={"assigned": vals.Value(integer=assigned), "met": vals.Value(integer=met)},
    )


def test_stream_answers_in_order_with_per_item_errors(client: Client) -> None:
    """One response per request, in order; failing items carry their error and the stream goes on."""
    requests = [
        _divz(4),
        _divz(0),  # division by zero
        ev.ScoreRequest(ruleset=vals.RulesetRef(name="nope")),
        ev.ScoreRequest(
            ruleset=vals.RulesetRef(name="divz", version="1"), inputs={"assigned": vals.Value(decimal="x")}
        ),
        _divz(5, 5),
    ]
    responses = list(client.evaluation.ScoreStream(iter(requests)))
    assert [0, 1, 2, 3, 4] == [r.index for r in responses]
    assert ["2.50", "", "", "", "10.00"] == [r.result.score for r in responses]
    assert ["", "FAILED_PRECONDITION", "NOT_FOUND", "INVALID_ARGUMENT", ""] == [
        r.error.status for r in responses
    ]
    assert "criterion 'rate'" in responses[1].error.message
    assert "1" == responses[1].ruleset.version, "a failed item still names the ruleset it used"
    assert [v.field for v in responses[3].error.violations] == ["inputs.assigned"]


def test_stream_answers_each_request_before_the_next_is_sent(client: Client) -> None:
    """The server reads lazily: each answer arrives while the client still holds back the next request."""
    outbox: queue.Queue[ev.ScoreRequest | None] = queue.Queue()

    def requests() -> Iterator[ev.ScoreRequest]:
        while (item := outbox.get(timeout=10)) is not None:
            yield item

    responses = client.evaluation.ScoreStream(requests())
    seen = []
    for i in range(1, 6):
        outbox.put(_divz(i, i))
        seen.append(next(responses).result.score)  # would hang if the server waited for more input
    outbox.put(None)
    assert [] == list(responses)
    assert ["10.00"] * 5 == seen


def test_stream_of_many_items_keeps_order(client: Client) -> None:
    """A long stream (2,000 items) comes back complete and in order."""
    n = 2000
    responses = client.evaluation.ScoreStream(_divz(1 + i % 7, i % 3) for i in range(n))
    indexes = [r.index for r in responses]
    assert list(range(n)) == indexes


def test_stream_error_in_client_iterator_ends_cleanly(client: Client) -> None:
    """A client whose request iterator raises cancels the call; the server stays healthy."""

    def broken() -> Iterator[ev.ScoreRequest]:
        yield _divz(1)
        raise RuntimeError("client side failure")

    with pytest.raises(grpc.RpcError) as info:
        list(client.evaluation.ScoreStream(broken()))
    assert grpc.StatusCode.UNKNOWN == info.value.code()  # the client library's own status for its failure
    assert "2.50" == client.evaluation.Score(_divz(4)).result.score


def test_concurrent_calls_get_their_own_answers(client: Client) -> None:
    """Many threads scoring at once each get the answer for their own input."""
    errors: list[str] = []

    def worker(k: int) -> None:
        for met in range(5):
            score = client.evaluation.Score(_divz(k, met)).result.score
            expected = min(Decimal(10), Decimal(10) * met / k).quantize(Decimal("0.01"))
            if score != str(expected):
                errors.append(f"{k}/{met}: {score} != {expected}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [] == errors


# ------------------------------------------------------------------ unit-level eligibility


def test_check_eligibility_of_a_single_unit(client: Client, case: dict[str, Any]) -> None:
    """One submission and no members: eligibility only (eligible / not_eligible / undecided)."""
    submission = ev.Submission(unit="tham_muu", inputs=_inputs(_submission(case, "tham_muu")))
    request = ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=ev.BlocCase(submissions=[submission]))
    response = client.evaluation.CheckEligibility(request)
    assert [] == list(response.titles)
    (unit,) = response.units
    statuses = {t.name: STATUS_NAMES[t.status] for t in unit.titles}
    # rank needs the bloc: co_bca is undecided, and so is co_ubnd, which requires `not co_bca`.
    assert {
        "tien_tien": "eligible",
        "quyet_thang": "eligible",
        "co_bca": "undecided",
        "co_ubnd": "undecided",
    } == statuses
    co_bca = next(t for t in unit.titles if t.name == "co_bca")
    assert [True, None, True] == [r.passed if r.HasField("passed") else None for r in co_bca.requirements]


def test_check_eligibility_single_unit_input_errors_name_the_submission(client: Client) -> None:
    """A single unit's bad inputs are reported under bloc_case.submissions[0].inputs."""
    submission = ev.Submission(unit="x", inputs={"assigned": vals.Value(text="many")})
    request = ev.CheckEligibilityRequest(
        ruleset=vals.RulesetRef(name="divz"), bloc_case=ev.BlocCase(submissions=[submission])
    )
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.CheckEligibility(request)
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    fields = {f for f, _ in _violations(info.value)}
    assert {"bloc_case.submissions[0].inputs.assigned", "bloc_case.submissions[0].inputs.met"} <= fields


# ------------------------------------------------------------------ blocs


def _engine_decision(case: dict[str, Any]) -> dict[str, Any]:
    from dsl.bloc import evaluate_bloc

    compiled = load_ruleset(ROOT / "rulesets" / "khoi3" / "2023.1.rules")
    decided: dict[str, Any] = evaluate_bloc(compiled, case).to_json()
    return decided


def test_check_eligibility_decides_the_bloc_like_the_engine(client: Client, case: dict[str, Any]) -> None:
    """CheckEligibility returns the reference outcome: ranking, statuses and awards, as evaluate_bloc does."""
    request = ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=case_from_json(case))
    response = client.evaluation.CheckEligibility(request)
    expected = _engine_decision(case)
    assert ["tham_muu", "tccb", "ctd_ctct", "ubkt", "hau_can", "thanh_tra"] == [
        u.unit for u in response.units
    ]
    assert [(u["unit"], u["score"], u["level"], u["rank"], u["titles"]) for u in expected["units"]] == [
        (u.unit, u.score, u.level, u.rank, {t.name: STATUS_NAMES[t.status] for t in u.titles})
        for u in response.units
    ]
    assert {k: (v["awarded"], v["tied"]) for k, v in expected["titles"].items()} == {
        t.name: (list(t.awarded), list(t.tied)) for t in response.titles
    }
    assert (1, "khoi3", "2023") == (response.titles[2].quota, response.bloc, response.period)
    ubkt = next(u for u in response.units if u.unit == "ubkt")
    quyet_thang = next(t for t in ubkt.titles if t.name == "quyet_thang")
    assert [True] * 5 == [r.passed for r in quyet_thang.requirements], (
        "requirement results are always returned"
    )


def test_compute_rotation_names_the_deciding_alternatives(client: Client, case: dict[str, Any]) -> None:
    """ComputeRotation: hau_can leads (the deputy promoted), tham_muu deputises, with traces."""
    response = client.evaluation.ComputeRotation(
        ev.ComputeRotationRequest(ruleset=KHOI3, bloc_case=case_from_json(case))
    )
    assert ("hau_can", "tham_muu") == (response.leader.unit, response.deputy.unit)
    assert "current.deputy" == response.leader.chosen_by
    assert response.deputy.chosen_by.startswith("first of ranking")
    assert "2023.1" == response.ruleset.version


def test_bad_case_lists_every_problem_under_bloc_case(client: Client, case: dict[str, Any]) -> None:
    """A case with several problems answers INVALID_ARGUMENT with all of them, paths under bloc_case."""
    bad = dict(case)
    bad["members"] = [*case["members"], "ghost"]
    bad["current"] = {"leader": "nobody"}
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.CheckEligibility(
            ev.CheckEligibilityRequest(ruleset=KHOI3, bloc_case=case_from_json(bad))
        )
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    fields = [f for f, _ in _violations(info.value)]
    assert 2 <= len(fields)
    assert all(f.startswith("bloc_case.") for f in fields)
    assert any("current" in f for f in fields)


def test_bloc_size_limit_names_the_limit(tmp_path: Path, case: dict[str, Any]) -> None:
    """A case with more units than max_units_per_bloc is refused naming the limit."""
    with (
        serving(make_rulesets(tmp_path / "r"), Limits(max_units_per_bloc=3)) as small,
        pytest.raises(grpc.RpcError) as info,
    ):
        small.evaluation.ComputeRotation(
            ev.ComputeRotationRequest(ruleset=KHOI3, bloc_case=case_from_json(case))
        )
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert "max_units_per_bloc" in (info.value.details() or "")


def _aggr_case(tasks: dict[str, int]) -> ev.BlocCase:
    return case_from_json(
        {
            "members": list(tasks),
            "submissions": [{"unit": u, "inputs": {"tasks": t}} for u, t in tasks.items()],
        }
    )


def test_bloc_aggregates_score_within_the_bloc(client: Client) -> None:
    """A ruleset with bloc_max scores units relative to the bloc's best."""
    request = ev.CheckEligibilityRequest(
        ruleset=vals.RulesetRef(name="aggr"), bloc_case=_aggr_case({"a": 4, "b": 8, "c": 2})
    )
    response = client.evaluation.CheckEligibility(request)
    assert [("b", "10.00", 1), ("a", "5.00", 2), ("c", "2.50", 3)] == [
        (u.unit, u.score, u.rank) for u in response.units
    ]
    assert ["b"] == list(response.titles[0].awarded)


def test_ties_at_the_quota_are_reported(client: Client) -> None:
    """Two units tied for a quota-1 title are both tied, none awarded."""
    request = ev.CheckEligibilityRequest(
        ruleset=vals.RulesetRef(name="aggr"), bloc_case=_aggr_case({"a": 8, "b": 8, "c": 2})
    )
    response = client.evaluation.CheckEligibility(request)
    assert ([], ["a", "b"]) == (list(response.titles[0].awarded), sorted(response.titles[0].tied))
    assert {"a": "tied", "b": "tied", "c": "not_eligible"} == {
        u.unit: STATUS_NAMES[u.titles[0].status] for u in response.units
    }


def test_rotation_without_rules_is_failed_precondition(client: Client) -> None:
    """ComputeRotation with a ruleset that has no rotation block answers FAILED_PRECONDITION."""
    bloc = case_from_json(
        {"members": ["a"], "submissions": [{"unit": "a", "inputs": {"assigned": 1, "met": 1}}]}
    )
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.ComputeRotation(
            ev.ComputeRotationRequest(ruleset=vals.RulesetRef(name="divz"), bloc_case=bloc)
        )
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "rotation" in (info.value.details() or "")


def test_exhausted_rotation_is_failed_precondition(client: Client) -> None:
    """A one-unit bloc cannot fill the deputy seat: FAILED_PRECONDITION naming the role."""
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.ComputeRotation(
            ev.ComputeRotationRequest(ruleset=vals.RulesetRef(name="aggr"), bloc_case=_aggr_case({"solo": 3}))
        )
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "deputy" in (info.value.details() or "")


def test_message_size_limit_is_resource_exhausted(tmp_path: Path) -> None:
    """A request over --max-message-bytes is refused by gRPC with RESOURCE_EXHAUSTED, never a crash."""
    big = ev.ScoreRequest(
        ruleset=vals.RulesetRef(name="divz"), inputs={"assigned": vals.Value(text="x" * 5000)}
    )
    with (
        serving(make_rulesets(tmp_path / "r"), Limits(max_message_bytes=2000)) as small,
        pytest.raises(grpc.RpcError) as info,
    ):
        small.evaluation.Score(big)
    assert grpc.StatusCode.RESOURCE_EXHAUSTED == info.value.code()
