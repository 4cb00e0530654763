"""BlocService over a real server and database: blocs, staged submissions, history, errors and roles."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from service.auth import EDITOR, READER, AuthSettings, TokenTable, hash_token, metadata_for
from service.config import ServerConfig
from service.db import Store
from service.gen.thidua.v1 import blocs_pb2 as bl
from service.gen.thidua.v1 import blocs_pb2_grpc
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import values_pb2 as vals
from service.server import Running, _stop, build_server
from tests.service.grpc_helpers import make_rulesets

MEMBERS = ["hau_can", "tham_muu", "ubkt"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gRPC tests' rulesets folder."""
    return make_rulesets(tmp_path_factory.mktemp("rulesets"))


def _serve(folder: Path, store: Store | None, **options: Any) -> tuple[Running, grpc.Channel]:
    config = ServerConfig(address="127.0.0.1:0", rulesets=folder, **options)
    running = build_server(config, publisher=store)
    return running, grpc.insecure_channel(f"127.0.0.1:{running.port}")


@pytest.fixture
def stub(folder: Path, store: Store) -> Iterator[blocs_pb2_grpc.BlocServiceStub]:
    """A BlocService stub on a server whose database is ``store`` (each backend)."""
    server, channel = _serve(folder, store)
    yield blocs_pb2_grpc.BlocServiceStub(channel)
    channel.close()
    _stop(server, 0)


def _code(call: object, *args: object, **kwargs: object) -> grpc.StatusCode:
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def _inputs(members: int, rate: str) -> dict[str, vals.Value]:
    return {
        "members": vals.Value(integer=members),
        "rate": vals.Value(decimal=rate),
        "discipline": vals.Value(
            list=vals.ValueList(
                values=[vals.Value(record=vals.Record(fields={"form": vals.Value(text="warning")}))]
            )
        ),
    }


def test_put_and_get_a_bloc(stub: blocs_pb2_grpc.BlocServiceStub) -> None:
    """PutBloc stores members in rotation order; repeating it is created=false; GetBloc reads it back."""
    first = stub.PutBloc(bl.PutBlocRequest(name="khoi3", label="Khối 3", members=MEMBERS), timeout=10)
    again = stub.PutBloc(bl.PutBlocRequest(name="khoi3", label="Khối 3", members=MEMBERS), timeout=10)
    assert (True, False) == (first.created, again.created)
    bloc = stub.GetBloc(bl.GetBlocRequest(name="khoi3"), timeout=10).bloc
    assert ("khoi3", "Khối 3", MEMBERS) == (bloc.name, bloc.label, list(bloc.members))
    assert bloc.updated_at.endswith("Z")


def test_store_and_list_submissions_by_stage(stub: blocs_pb2_grpc.BlocServiceStub) -> None:
    """Stored inputs come back exact; the list gives each unit's latest stage unless a stage is named."""
    stub.PutBloc(bl.PutBlocRequest(name="khoi3", members=MEMBERS), timeout=10)
    request = bl.StoreSubmissionsRequest(
        bloc="khoi3",
        period="2023",
        author="clerk",
        submissions=[
            bl.SubmissionInput(unit="ubkt", inputs=_inputs(20, "0.70"), idempotency_key="ubkt-self"),
            bl.SubmissionInput(unit="ubkt", inputs=_inputs(21, "0.75"), stage=ev.STAGE_REVIEWED),
            bl.SubmissionInput(unit="hau_can", inputs=_inputs(30, "0.5")),
        ],
    )
    writes = stub.StoreSubmissions(request, timeout=10).writes
    assert [True, True, True] == [w.created for w in writes]
    assert [("self", 1), ("reviewed", 1), ("self", 1)] == [
        (ev.Stage.Name(w.submission.stage).removeprefix("STAGE_").lower(), w.submission.revision)
        for w in writes
    ]
    latest = stub.ListSubmissions(
        bl.ListSubmissionsRequest(bloc="khoi3", period="2023"), timeout=10
    ).submissions
    assert [("hau_can", ev.STAGE_SELF, "0.5"), ("ubkt", ev.STAGE_REVIEWED, "0.75")] == [
        (s.unit, s.stage, s.inputs["rate"].decimal) for s in latest
    ]
    assert "warning" == latest[0].inputs["discipline"].list.values[0].record.fields["form"].text
    selfs = stub.ListSubmissions(
        bl.ListSubmissionsRequest(bloc="khoi3", period="2023", stage=ev.STAGE_SELF), timeout=10
    ).submissions
    assert [("hau_can", 30), ("ubkt", 20)] == [(s.unit, s.inputs["members"].integer) for s in selfs]
    retry = bl.StoreSubmissionsRequest(
        bloc="khoi3",
        period="2023",
        submissions=[
            bl.SubmissionInput(unit="ubkt", inputs=_inputs(20, "0.70"), idempotency_key="ubkt-self")
        ],
    )
    again = stub.StoreSubmissions(retry, timeout=10).writes[0]
    assert (False, writes[0].submission.id) == (again.created, again.submission.id)


def test_errors_have_the_right_codes(stub: blocs_pb2_grpc.BlocServiceStub) -> None:
    """Unknown bloc NOT_FOUND, non-member and bad values INVALID_ARGUMENT, reused key ALREADY_EXISTS."""
    assert grpc.StatusCode.NOT_FOUND == _code(stub.GetBloc, bl.GetBlocRequest(name="khoi9"), timeout=10)
    stub.PutBloc(bl.PutBlocRequest(name="khoi3", members=MEMBERS), timeout=10)

    def store(unit: str, inputs: dict[str, vals.Value], key: str = "") -> grpc.StatusCode:
        item = bl.SubmissionInput(unit=unit, inputs=inputs, idempotency_key=key)
        return _code(
            stub.StoreSubmissions,
            bl.StoreSubmissionsRequest(bloc="khoi3", period="2023", submissions=[item]),
            timeout=10,
        )

    assert grpc.StatusCode.INVALID_ARGUMENT == store("thanh_tra", _inputs(1, "1"))
    assert grpc.StatusCode.INVALID_ARGUMENT == store("ubkt", {"rate": vals.Value(decimal="1e5")})
    assert grpc.StatusCode.OK == store("ubkt", _inputs(1, "1"), key="k")
    assert grpc.StatusCode.ALREADY_EXISTS == store("ubkt", _inputs(2, "1"), key="k")
    assert grpc.StatusCode.INVALID_ARGUMENT == _code(
        stub.PutBloc, bl.PutBlocRequest(name="khoi3", members=["a", "a"]), timeout=10
    )


def test_commit_holders_and_history(stub: blocs_pb2_grpc.BlocServiceStub) -> None:
    """CommitHolders is idempotent and immutable; GetHistory lists periods newest first."""
    stub.PutBloc(bl.PutBlocRequest(name="khoi3", members=MEMBERS), timeout=10)
    first = stub.CommitHolders(
        bl.CommitHoldersRequest(bloc="khoi3", period="2024", leader="hau_can", deputy="tham_muu"), timeout=10
    )
    again = stub.CommitHolders(
        bl.CommitHoldersRequest(bloc="khoi3", period="2024", leader="hau_can", deputy="tham_muu"), timeout=10
    )
    assert (True, False) == (first.created, again.created)
    other = bl.CommitHoldersRequest(bloc="khoi3", period="2024", leader="ubkt")
    assert grpc.StatusCode.ALREADY_EXISTS == _code(stub.CommitHolders, other, timeout=10)
    stub.CommitHolders(
        bl.CommitHoldersRequest(bloc="khoi3", period="2023", leader="ubkt", deputy="hau_can"), timeout=10
    )
    history = stub.GetHistory(bl.GetHistoryRequest(bloc="khoi3"), timeout=10).periods
    assert [("2024", "hau_can", "tham_muu"), ("2023", "ubkt", "hau_can")] == [
        (h.period, h.leader, h.deputy) for h in history
    ]


def test_without_a_database_calls_fail_precondition(folder: Path) -> None:
    """A server without a database answers BlocService calls with FAILED_PRECONDITION."""
    server, channel = _serve(folder, None)
    try:
        stub = blocs_pb2_grpc.BlocServiceStub(channel)
        assert grpc.StatusCode.FAILED_PRECONDITION == _code(
            stub.GetBloc, bl.GetBlocRequest(name="khoi3"), timeout=10
        )
    finally:
        channel.close()
        _stop(server, 0)


def test_unreachable_database_is_unavailable(folder: Path) -> None:
    """A database that cannot be reached makes writes UNAVAILABLE (retry later), not INTERNAL."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    down = Store(f"postgresql://postgres@127.0.0.1:{port}/test")
    server, channel = _serve(folder, down)
    try:
        stub = blocs_pb2_grpc.BlocServiceStub(channel)
        assert grpc.StatusCode.UNAVAILABLE == _code(
            stub.PutBloc, bl.PutBlocRequest(name="khoi3", members=MEMBERS), timeout=10
        )
    finally:
        channel.close()
        _stop(server, 0)
        down.close()


def test_writes_need_an_editor(folder: Path, sqlite_url: str) -> None:
    """A reader may GetBloc and ListSubmissions but PutBloc, StoreSubmissions and CommitHolders are denied."""
    store = Store(sqlite_url)
    store.migrate()
    store.put_bloc("khoi3", MEMBERS)
    auth = AuthSettings(tokens=TokenTable({hash_token("r-token"): READER, hash_token("e-token"): EDITOR}))
    server, channel = _serve(folder, store, auth=auth)
    reader = metadata_for("r-token")
    try:
        stub = blocs_pb2_grpc.BlocServiceStub(channel)
        assert grpc.StatusCode.OK == _code(
            stub.GetBloc, bl.GetBlocRequest(name="khoi3"), metadata=reader, timeout=10
        )
        listing = bl.ListSubmissionsRequest(bloc="khoi3", period="2023")
        assert grpc.StatusCode.OK == _code(stub.ListSubmissions, listing, metadata=reader, timeout=10)
        writes = [
            (stub.PutBloc, bl.PutBlocRequest(name="khoi3", members=MEMBERS)),
            (stub.StoreSubmissions, bl.StoreSubmissionsRequest(bloc="khoi3", period="2023")),
            (stub.CommitHolders, bl.CommitHoldersRequest(bloc="khoi3", period="2024", leader="ubkt")),
        ]
        for call, request in writes:
            assert grpc.StatusCode.PERMISSION_DENIED == _code(call, request, metadata=reader, timeout=10)
        put = bl.PutBlocRequest(name="khoi3", members=MEMBERS)
        assert grpc.StatusCode.OK == _code(stub.PutBloc, put, metadata=metadata_for("e-token"), timeout=10)
    finally:
        channel.close()
        _stop(server, 0)
        store.close()
