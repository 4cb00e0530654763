"""InsightService.WhatIf on an in-process server: answers as the Python API gives them, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from service.config import Limits
from service.convert import case_from_json, value_from_json
from service.gen.thidua.v1 import insight_pb2 as ins
from service.gen.thidua.v1 import insight_pb2_grpc as ins_grpc
from service.servicers.common import RulesetSource
from service.servicers.insight import InsightServicer
from tests.service.grpc_helpers import KHOI3, load_case, make_rulesets


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ins_grpc.InsightServiceStub]:
    folder = make_rulesets(tmp_path_factory.mktemp("rulesets"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ins_grpc.add_InsightServiceServicer_to_server(
        InsightServicer(RulesetSource(Path(folder), Limits())), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield ins_grpc.InsightServiceStub(channel)
    finally:
        server.stop(None)


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    return load_case()


def test_whatif_alone(stub: ins_grpc.InsightServiceStub, case: dict[str, Any]) -> None:
    """ubkt alone for co_ubnd: one more key task, exact, as a typed Value; the combination reaches it."""
    inputs = next(s["inputs"] for s in case["submissions"] if s["unit"] == "ubkt")
    request = ins.WhatIfRequest(
        ruleset=KHOI3, unit="ubkt", inputs={k: value_from_json(v) for k, v in inputs.items()}, title="co_ubnd"
    )
    answer = stub.WhatIf(request)
    assert ("khoi3", "2023.1") == (answer.ruleset.name, answer.ruleset.version)
    score = next(c for c in answer.conditions if c.condition == "score >= 92")
    assert score.HasField("passed") and not score.passed
    change = next(c for c in score.changes if c.input == "key_tasks_excellent")
    assert ("3", "4", "1", ins.CHANGE_METHOD_EXACT) == (
        change.before.decimal,
        change.after.decimal,
        change.delta,
        change.method,
    )
    assert answer.combined_reaches


def test_whatif_in_bloc(stub: ins_grpc.InsightServiceStub, case: dict[str, Any]) -> None:
    """With the bloc case the unit's own submission is used and awards are judged in the bloc."""
    request = ins.WhatIfRequest(
        ruleset=KHOI3, unit="ctd_ctct", bloc_case=case_from_json(case), level="excellent"
    )
    answer = stub.WhatIf(request)
    assert (True, "good") == (answer.in_bloc, answer.status)
    assert ["discipline"] == [c.input for c in answer.single_changes]
    assert ins.CHANGE_METHOD_ENUMERATED == answer.single_changes[0].method


def test_unknown_title_is_invalid_argument(stub: ins_grpc.InsightServiceStub, case: dict[str, Any]) -> None:
    """A misspelt title is INVALID_ARGUMENT naming it, never UNKNOWN."""
    request = ins.WhatIfRequest(ruleset=KHOI3, unit="ubkt", bloc_case=case_from_json(case), title="co_bcaa")
    with pytest.raises(grpc.RpcError) as info:
        stub.WhatIf(request)
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert "did you mean 'co_bca'?" in (info.value.details() or "")


def test_the_server_serves_whatif(tmp_path: Path, case: dict[str, Any]) -> None:
    """The real server registers InsightService: health SERVING and a WhatIf answer."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from tests.service.grpc_helpers import serving

    with serving(make_rulesets(tmp_path / "rulesets")) as client:
        health = health_pb2_grpc.HealthStub(client.channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="thidua.v1.InsightService")).status
        assert health_pb2.HealthCheckResponse.SERVING == status
        stub = ins_grpc.InsightServiceStub(client.channel)
        request = ins.WhatIfRequest(
            ruleset=KHOI3, unit="tham_muu", bloc_case=case_from_json(case), title="co_bca"
        )
        answer = stub.WhatIf(request)
        assert (True, "awarded") == (answer.reached, answer.status)
