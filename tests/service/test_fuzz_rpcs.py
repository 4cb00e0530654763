"""Whatever a client sends, the answer is a deliberate status: never UNKNOWN or INTERNAL (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import Client, make_rulesets, serving
from tests.service.value_strategies import nested_values

FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
NAMES = [
    "members",
    "discipline",
    "party_rating",
    "plan_issued_on",
    "budget_on_time",
    "form",
    "x",
    "đơn_vị",
    "",
]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)

scalars = st.one_of(
    st.builds(lambda t: vals.Value(decimal=t), st.one_of(TEXT, st.decimals(allow_nan=False).map(str))),
    st.builds(lambda i: vals.Value(integer=i), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda b: vals.Value(boolean=b), st.booleans()),
    st.builds(
        lambda t: vals.Value(text=t), st.one_of(TEXT, st.sampled_from(["excellent", "warning", "good"]))
    ),
    st.builds(lambda t: vals.Value(date=t), st.one_of(TEXT, st.dates().map(str))),
    st.just(vals.Value()),
)
values = nested_values(scalars, NAMES, max_fields=3, max_leaves=12)
inputs = st.dictionaries(st.one_of(st.sampled_from(NAMES), TEXT), values, max_size=8)
refs = st.builds(
    vals.RulesetRef,
    name=st.one_of(st.sampled_from(["khoi3", "divz", "aggr", "KHOI3", "../khoi3"]), TEXT),
    version=st.one_of(st.sampled_from(["", "2023.1", "1", "2", "9.9", "../../x"]), TEXT),
)
units = st.one_of(st.sampled_from(["a", "b", "tham_muu"]), TEXT)
cases = st.builds(
    ev.BlocCase,
    bloc=TEXT,
    period=TEXT,
    members=st.lists(units, max_size=4),
    current=st.builds(ev.Holders, leader=units, deputy=units),
    elected=st.builds(ev.Holders, leader=units, deputy=units),
    history=st.lists(st.builds(ev.HistoryEntry, period=TEXT, leader=units, deputy=units), max_size=2),
    submissions=st.lists(st.builds(ev.Submission, unit=units, inputs=inputs), max_size=4),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with serving(make_rulesets(tmp_path_factory.mktemp("rulesets"))) as c:
        yield c


def _status(call: object) -> grpc.StatusCode:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return, attr-defined]
    return grpc.StatusCode.OK


_SETTINGS = settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@_SETTINGS
@given(ref=refs, unit=units, raw=inputs, explain=st.booleans())
def test_score_never_answers_unknown_or_internal(
    client: Client, ref: vals.RulesetRef, unit: str, raw: dict[str, vals.Value], explain: bool
) -> None:
    """Random references and inputs get OK or a deliberate error status."""
    request = ev.ScoreRequest(ruleset=ref, unit=unit, inputs=raw, explain=explain)
    assert _status(lambda: client.evaluation.Score(request, timeout=30)) not in FORBIDDEN


@_SETTINGS
@given(ref=refs, case=cases)
def test_bloc_calls_never_answer_unknown_or_internal(
    client: Client, ref: vals.RulesetRef, case: ev.BlocCase
) -> None:
    """Random bloc cases get OK or a deliberate error status, for both bloc RPCs."""
    check = ev.CheckEligibilityRequest(ruleset=ref, bloc_case=case)
    rotation = ev.ComputeRotationRequest(ruleset=ref, bloc_case=case)
    assert _status(lambda: client.evaluation.CheckEligibility(check, timeout=30)) not in FORBIDDEN
    assert _status(lambda: client.evaluation.ComputeRotation(rotation, timeout=30)) not in FORBIDDEN


@_SETTINGS
@given(source=st.one_of(TEXT, st.text(max_size=200)), path=TEXT)
def test_validate_never_answers_unknown_or_internal(client: Client, source: str, path: str) -> None:
    """Random source text validates to diagnostics (or a limit), never a crash."""
    request = rs.ValidateRulesetRequest(source='ruleset r version "1" {' + source, path=path)
    assert _status(lambda: client.rulesets.ValidateRuleset(request, timeout=30)) not in FORBIDDEN


@_SETTINGS
@given(items=st.lists(st.builds(ev.ScoreRequest, ruleset=refs, inputs=inputs), max_size=5))
def test_stream_items_never_carry_unknown_or_internal(client: Client, items: list[ev.ScoreRequest]) -> None:
    """Every item of a random stream is answered, none with UNKNOWN or INTERNAL."""
    responses = list(client.evaluation.ScoreStream(iter(items), timeout=30))
    assert list(range(len(items))) == [r.index for r in responses]
    assert not {r.error.status for r in responses} & {"UNKNOWN", "INTERNAL"}
