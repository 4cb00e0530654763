"""ComputeRotation with `commit`: holders recorded with their evaluation, idempotent, verifiable by SHA-256."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from dsl.api import compile_ruleset
from dsl.bloc import evaluate_bloc
from service.auth import EDITOR, READER, AuthSettings, TokenTable, hash_token, metadata_for
from service.config import ServerConfig
from service.convert import case_from_json
from service.db import Store, StoredRuleset
from service.db.importer import import_rulesets
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc
from service.server import _stop, build_server
from service.servicers.rotation_commit import next_period
from tests.service.grpc_helpers import KHOI3, load_case, make_rulesets

AUTH = AuthSettings(tokens=TokenTable({hash_token("r-token"): READER, hash_token("e-token"): EDITOR}))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gRPC tests' rulesets folder (with khoi3 2023.1)."""
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


@pytest.fixture
def rotation(folder: Path, store: Store) -> Iterator[evaluation_pb2_grpc.EvaluationServiceStub]:
    """An EvaluationService stub on a server backed by ``store``, holding bloc khoi3 and the folder's rulesets."""
    case = load_case()
    store.put_bloc(case["bloc"], case["members"])
    import_rulesets(store, folder)
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder), publisher=store)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield evaluation_pb2_grpc.EvaluationServiceStub(channel)
    channel.close()
    _stop(running, 0)


def _request(**fields: Any) -> ev.ComputeRotationRequest:
    return ev.ComputeRotationRequest(ruleset=KHOI3, bloc_case=case_from_json(load_case()), **fields)


def test_next_period_of_whole_numbers_only() -> None:
    """2023 is followed by 2024; a period that is not a whole number has no implied successor."""
    assert ("2024", None) == (next_period("2023"), next_period("2023-H1"))


def test_commit_records_holders_and_evaluation(
    rotation: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """The decided leader and deputy become 2024's holders, linked to the stored rotation evaluation."""
    response = rotation.ComputeRotation(_request(commit=True), timeout=60)
    assert ("hau_can", "tham_muu") == (response.leader.unit, response.deputy.unit)
    assert ("2024", True) == (response.committed_period, response.committed)
    holders = store.holders("khoi3", "2024")
    assert holders is not None
    assert ("hau_can", "tham_muu", response.evaluation_id) == (
        holders.leader,
        holders.deputy,
        holders.evaluation_id,
    )
    evaluation = store.get_evaluation(response.evaluation_id)
    assert ("rotation", response.ruleset.sha256, "khoi3", "2023") == (
        evaluation.kind,
        evaluation.ruleset_sha256,
        evaluation.bloc,
        evaluation.period,
    )


def test_repeating_the_commit_is_a_no_op(
    rotation: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """A retried commit answers committed=false with the same evaluation, and records nothing new."""
    first = rotation.ComputeRotation(_request(commit=True), timeout=60)
    again = rotation.ComputeRotation(_request(commit=True), timeout=60)
    assert (False, first.evaluation_id) == (again.committed, again.evaluation_id)
    # Commits record their evaluation themselves, once (the recorder handles uncommitted calls only).
    assert 1 == len(store.evaluations(bloc="khoi3"))
    assert 1 == len(store.history("khoi3"))


def test_without_commit_no_holders_are_written(
    rotation: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """A plain ComputeRotation commits nothing; it is only recorded (asynchronously) as an evaluation."""
    response = rotation.ComputeRotation(_request(), timeout=60)
    assert ("", 0) == (response.committed_period, response.evaluation_id)
    assert [] == store.history("khoi3")


def test_commit_refusals(rotation: evaluation_pb2_grpc.EvaluationServiceStub, store: Store) -> None:
    """Other holders for a committed period are ALREADY_EXISTS; a period without successor needs commit_period."""
    store.commit_holders("khoi3", "2024", "ubkt", "tccb")
    with pytest.raises(grpc.RpcError) as caught:
        rotation.ComputeRotation(_request(commit=True), timeout=60)
    assert grpc.StatusCode.ALREADY_EXISTS == caught.value.code()
    odd = _request(commit=True)
    odd.bloc_case.period = "2023-H2"
    with pytest.raises(grpc.RpcError) as caught:
        rotation.ComputeRotation(odd, timeout=60)
    assert grpc.StatusCode.INVALID_ARGUMENT == caught.value.code()
    assert "commit_period" in caught.value.details()
    odd.commit_period = "2024-H1"
    assert "2024-H1" == rotation.ComputeRotation(odd, timeout=60).committed_period


def test_a_stored_rotation_verifies_against_its_sha256(
    rotation: evaluation_pb2_grpc.EvaluationServiceStub, store: Store
) -> None:
    """Re-running the stored request with the stored ruleset its SHA-256 names reproduces the stored result."""
    evaluation_id = rotation.ComputeRotation(_request(commit=True), timeout=60).evaluation_id

    def reevaluate(ruleset: StoredRuleset, request: Any) -> Any:
        compiled = compile_ruleset(ruleset.resolved_source, f"<stored {ruleset.ref}>")
        assert ruleset.sha256 == compiled.sha256
        decided = evaluate_bloc(compiled, request["case"])
        assert decided.rotation is not None
        return decided.rotation.to_json(explain=True)

    verified = store.verify_evaluation(evaluation_id, reevaluate)
    assert (True, "khoi3", "2023.1") == (verified.matches, verified.ruleset.name, verified.ruleset.version)


def test_commit_needs_a_database_and_an_editor(folder: Path, sqlite_url: str) -> None:
    """Without a database commit is FAILED_PRECONDITION; with auth, a reader's commit is PERMISSION_DENIED."""
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder))
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ComputeRotation(_request(commit=True), timeout=60)
        assert grpc.StatusCode.FAILED_PRECONDITION == caught.value.code()
    _stop(running, 0)
    store = Store(sqlite_url)
    store.migrate()
    running = build_server(ServerConfig(address="127.0.0.1:0", rulesets=folder, auth=AUTH), publisher=store)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ComputeRotation(_request(commit=True), metadata=metadata_for("r-token"), timeout=60)
        assert grpc.StatusCode.PERMISSION_DENIED == caught.value.code()
        plain = stub.ComputeRotation(_request(), metadata=metadata_for("r-token"), timeout=60)
        assert "hau_can" == plain.leader.unit
    _stop(running, 0)
    store.close()
