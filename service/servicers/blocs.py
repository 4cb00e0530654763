"""BlocService: blocs, stored submissions and leader/deputy history, over `service.db.Store`.

The servicer only converts: messages to the store's arguments and records to
messages. Every rule (idempotency, stages, membership, immutable history) is
the store's, so the gRPC API and the Python API cannot disagree. Without a
database every call answers FAILED_PRECONDITION.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import grpc

from dsl.errors import FieldViolation, InputError
from service.config import Limits
from service.convert import inputs_to_python, to_value
from service.db.records import (
    BlocWrite,
    EvaluationWrite,
    Holders,
    HoldersWrite,
    NewSubmission,
    StoredBloc,
    StoredCase,
    StoredSubmission,
    SubmissionWrite,
)
from service.errors import RequestLimitError, ServiceError, guarded
from service.gen.thidua.v1 import blocs_pb2 as bl
from service.gen.thidua.v1 import blocs_pb2_grpc as bl_grpc
from service.gen.thidua.v1 import evaluation_pb2 as ev

STAGE_NAMES: dict[int, str] = {
    ev.STAGE_SELF: "self",
    ev.STAGE_REVIEWED: "reviewed",
    ev.STAGE_APPROVED: "approved",
}
STAGE_VALUES: dict[str, ev.Stage.ValueType] = {
    "self": ev.STAGE_SELF,
    "reviewed": ev.STAGE_REVIEWED,
    "approved": ev.STAGE_APPROVED,
}


@runtime_checkable
class BlocStore(Protocol):
    """What BlocService needs from the database layer (`service.db.Store` provides it)."""

    def put_bloc(self, name: str, members: list[str], label: str = "") -> BlocWrite: ...

    def get_bloc(self, name: str) -> StoredBloc: ...

    def store_submissions(
        self, bloc: str, period: str, items: list[NewSubmission], *, author: str = ""
    ) -> list[SubmissionWrite]: ...

    def submissions(self, bloc: str, period: str, stage: str | None = None) -> list[StoredSubmission]: ...

    def history(self, bloc: str) -> list[Holders]: ...

    def commit_holders(
        self,
        bloc: str,
        period: str,
        leader: str | None,
        deputy: str | None,
        *,
        evaluation_id: int | None = None,
        author: str = "",
    ) -> HoldersWrite: ...

    def bloc_case(self, bloc: str, period: str, ruleset: str, *, stage: str | None = None) -> StoredCase: ...

    def record_evaluation(
        self,
        kind: str,
        ruleset: tuple[str, str, str],
        request: Any,
        result: Any,
        *,
        bloc: str | None = None,
        period: str | None = None,
        idempotency_key: str | None = None,
        author: str = "",
    ) -> EvaluationWrite: ...


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stage_name(stage: int, field: str) -> str | None:
    if stage == ev.STAGE_UNSPECIFIED:
        return None
    if stage not in STAGE_NAMES:
        raise InputError([FieldViolation(field, f"unknown stage {stage}")], what="request")
    return STAGE_NAMES[stage]


def bloc_pb(bloc: StoredBloc) -> bl.Bloc:
    return bl.Bloc(
        name=bloc.name, label=bloc.label, members=list(bloc.members), updated_at=_when(bloc.updated_at)
    )


def submission_pb(stored: StoredSubmission) -> bl.StoredSubmission:
    return bl.StoredSubmission(
        id=stored.id,
        unit=stored.unit,
        period=stored.period,
        stage=STAGE_VALUES[stored.stage],
        revision=stored.revision,
        inputs={name: to_value(value) for name, value in stored.inputs.items()},
        sha256=stored.content_sha256,
        author=stored.author,
        created_at=_when(stored.created_at),
    )


def holders_pb(holders: Holders) -> ev.HistoryEntry:
    return ev.HistoryEntry(period=holders.period, leader=holders.leader or "", deputy=holders.deputy or "")


class BlocServicer(bl_grpc.BlocServiceServicer):
    """BlocService over a store (None: the server runs without a database)."""

    def __init__(self, store: BlocStore | None, limits: Limits) -> None:
        self.store = store
        self.limits = limits

    def _store(self) -> BlocStore:
        if self.store is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "blocs, submissions and history need a database; this server runs without one",
            )
        return self.store

    @guarded
    def PutBloc(self, request: bl.PutBlocRequest, context: grpc.ServicerContext) -> bl.PutBlocResponse:
        if len(request.members) > self.limits.max_units_per_bloc:
            raise RequestLimitError(
                "max_units_per_bloc",
                "members",
                f"{len(request.members)} units, more than the {self.limits.max_units_per_bloc} allowed",
            )
        written = self._store().put_bloc(request.name, list(request.members), label=request.label)
        return bl.PutBlocResponse(bloc=bloc_pb(written.bloc), created=written.created)

    @guarded
    def GetBloc(self, request: bl.GetBlocRequest, context: grpc.ServicerContext) -> bl.GetBlocResponse:
        return bl.GetBlocResponse(bloc=bloc_pb(self._store().get_bloc(request.name)))

    @guarded
    def StoreSubmissions(
        self, request: bl.StoreSubmissionsRequest, context: grpc.ServicerContext
    ) -> bl.StoreSubmissionsResponse:
        if len(request.submissions) > self.limits.max_units_per_bloc:
            raise RequestLimitError(
                "max_units_per_bloc",
                "submissions",
                f"{len(request.submissions)} submissions, more than the {self.limits.max_units_per_bloc} allowed",
            )
        items: list[NewSubmission] = []
        problems: list[FieldViolation] = []
        for i, item in enumerate(request.submissions):
            where = f"submissions[{i}]"
            try:
                inputs: dict[str, Any] = inputs_to_python(item.inputs, self.limits, prefix=f"{where}.inputs.")
                stage = _stage_name(item.stage, f"{where}.stage") or "self"
            except InputError as exc:
                problems += exc.violations
                continue
            items.append(NewSubmission(item.unit, inputs, stage, item.idempotency_key or None))
        if problems:
            raise InputError(problems, what="submissions")
        writes = self._store().store_submissions(request.bloc, request.period, items, author=request.author)
        return bl.StoreSubmissionsResponse(
            writes=[
                bl.SubmissionWrite(submission=submission_pb(w.submission), created=w.created) for w in writes
            ]
        )

    @guarded
    def ListSubmissions(
        self, request: bl.ListSubmissionsRequest, context: grpc.ServicerContext
    ) -> bl.ListSubmissionsResponse:
        stage = _stage_name(request.stage, "stage")
        stored = self._store().submissions(request.bloc, request.period, stage)
        return bl.ListSubmissionsResponse(submissions=[submission_pb(s) for s in stored])

    @guarded
    def GetHistory(
        self, request: bl.GetHistoryRequest, context: grpc.ServicerContext
    ) -> bl.GetHistoryResponse:
        return bl.GetHistoryResponse(periods=[holders_pb(h) for h in self._store().history(request.bloc)])

    @guarded
    def CommitHolders(
        self, request: bl.CommitHoldersRequest, context: grpc.ServicerContext
    ) -> bl.CommitHoldersResponse:
        written = self._store().commit_holders(
            request.bloc,
            request.period,
            request.leader or None,
            request.deputy or None,
            author=request.author,
        )
        return bl.CommitHoldersResponse(holders=holders_pb(written.holders), created=written.created)
