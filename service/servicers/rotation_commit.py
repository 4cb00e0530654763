"""ComputeRotation's ``commit``: record the decided leader and deputy, and the evaluation behind them.

Kept apart from the evaluation servicer because it is the one place where
evaluating writes to the database. Two short transactions, both idempotent:
the evaluation is recorded under a key derived from its request and ruleset
(a retried call finds the same record), then the holders are committed for
the next period (the same holders again are a no-op; other holders for a
committed period are a `ConflictError`, ALREADY_EXISTS). A crash between the
two leaves an evaluation without holders, which the retry completes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from dsl.errors import FieldViolation, InputError
from service.db.canonical import dumps, sha256_text
from service.errors import ServiceError
from service.gen.thidua.v1 import evaluation_pb2 as ev

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from dsl.results import RotationResult
    from service.servicers.blocs import BlocStore


def next_period(period: str) -> str | None:
    """The period after ``period`` when it is a whole number (``2023`` → ``2024``), else None."""
    return str(int(period) + 1) if period.isascii() and period.isdigit() else None


def commit_rotation(
    store: BlocStore | None,
    request: ev.ComputeRotationRequest,
    case: ev.BlocCase,
    compiled: CompiledRuleset,
    rotation: RotationResult,
    mapping: dict[str, Any],
    response: ev.ComputeRotationResponse,
) -> None:
    """Record the evaluation and commit its holders; fill the response's commit fields.

    ``mapping`` is ``case`` as the CASE mapping the bloc was decided from (`service.convert.case_to_mapping`).
    """
    if store is None:
        raise ServiceError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "commit needs a database; this server runs without one",
        )
    problems: list[FieldViolation] = []
    if not case.bloc:
        problems.append(FieldViolation("bloc_case.bloc", "required to commit the holders"))
    if not case.period:
        problems.append(FieldViolation("bloc_case.period", "required to commit the holders"))
    period = request.commit_period or next_period(case.period)
    if period is None:
        problems.append(
            FieldViolation("commit_period", f"required: the period {case.period!r} is not a whole number")
        )
    if problems or period is None:
        raise InputError(problems, what="request")
    identity = (compiled.name, compiled.version, compiled.sha256)
    recorded_request: dict[str, Any] = {
        "ruleset": {"name": identity[0], "version": identity[1], "sha256": identity[2]},
        "case": mapping,
        "commit_period": period,
    }
    result = rotation.to_json(explain=True)
    key = "rotation:" + sha256_text(dumps(recorded_request))
    evaluation = store.record_evaluation(
        "rotation",
        identity,
        recorded_request,
        result,
        bloc=case.bloc,
        period=case.period,
        idempotency_key=key,
        author="ComputeRotation",
    )
    written = store.commit_holders(
        case.bloc,
        period,
        rotation.leader.unit,
        rotation.deputy.unit,
        evaluation_id=evaluation.evaluation.id,
        author="ComputeRotation",
    )
    response.committed_period = period
    response.committed = written.created
    response.evaluation_id = written.holders.evaluation_id or evaluation.evaluation.id
