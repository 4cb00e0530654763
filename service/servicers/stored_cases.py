"""Deciding a bloc from stored data: `stored_case` in CheckEligibility and ComputeRotation.

The store assembles the CASE (members, committed holders, history, each
unit's latest-stage submission or the stage asked for) in one transaction;
it then travels the same path as an inline ``bloc_case``, and the response
lists which stored submission — unit, stage, revision, id — went into it.
"""

from __future__ import annotations

import grpc

from dsl.errors import FieldViolation, InputError
from service.convert import case_from_json
from service.errors import ServiceError
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.servicers.blocs import STAGE_NAMES, STAGE_VALUES, BlocStore


def case_for(
    store: BlocStore | None, inline: ev.BlocCase, stored: ev.StoredCaseRef | None
) -> tuple[ev.BlocCase, list[ev.SubmissionUsed]]:
    """The case to decide: ``inline``, or the one the store holds for ``stored`` (with what it used)."""
    if stored is None:
        return inline, []
    if inline.ByteSize():
        raise InputError(
            [FieldViolation("stored_case", "give either bloc_case or stored_case, not both")], what="request"
        )
    if store is None:
        raise ServiceError(
            grpc.StatusCode.FAILED_PRECONDITION, "stored cases need a database; this server runs without one"
        )
    problems = [
        FieldViolation(f"stored_case.{name}", "required")
        for name in ("bloc", "period")
        if not getattr(stored, name).strip()
    ]
    if stored.stage not in (ev.STAGE_UNSPECIFIED, *STAGE_NAMES):
        problems.append(FieldViolation("stored_case.stage", f"unknown stage {stored.stage}"))
    if problems:
        raise InputError(problems, what="request")
    assembled = store.bloc_case(stored.bloc, stored.period, "", stage=STAGE_NAMES.get(stored.stage))
    used = [
        ev.SubmissionUsed(unit=s.unit, stage=STAGE_VALUES[s.stage], revision=s.revision, submission_id=s.id)
        for s in assembled.submissions
    ]
    return case_from_json(assembled.case), used
