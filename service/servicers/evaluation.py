"""EvaluationService: Score, ScoreStream, CheckEligibility, ComputeRotation over the engine.

Each method converts the request (`service.convert`; one submission's inputs,
and Score's answer without explanation, through the ruleset's
`service.score_plan`), calls the engine (`dsl.api.CompiledRuleset.score`,
`dsl.bloc.evaluate_bloc`) and converts the result back; errors are raised as
the engine's own and mapped to statuses by `service.errors.guarded` — or, in
ScoreStream, put into that item's response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc

from dsl.errors import InputError
from service.convert import (
    case_to_mapping,
    criterion_sections,
    eligibility_pb,
    rotation_pb,
    ruleset_pb,
    unit_result_pb,
)
from service.db.records import NewEvaluation
from service.errors import ServiceError, guarded, item_error, prefixed
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import evaluation_pb2_grpc as ev_grpc
from service.logging import note_item
from service.score_plan import score_plan
from service.servicers.common import RulesetSource
from service.servicers.rotation_commit import commit_rotation
from service.servicers.stored_cases import case_for

if TYPE_CHECKING:
    from service.db.recorder import EvaluationRecorder
    from service.servicers.blocs import BlocStore

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from dsl.results import BlocResult


class EvaluationServicer(ev_grpc.EvaluationServiceServicer):
    """Scores submissions and decides blocs; stateless apart from the compiled-ruleset cache."""

    def __init__(
        self,
        source: RulesetSource,
        store: BlocStore | None = None,
        recorder: EvaluationRecorder | None = None,
    ) -> None:
        self.source = source
        # The database, for ComputeRotation's `commit` (service.servicers.rotation_commit).
        self.store = store
        # Every answered evaluation is recorded through this, off the request path (service.db.recorder).
        self.recorder = recorder

    def _record(
        self, kind: str, compiled: CompiledRuleset, request: dict[str, Any], result: Any, case: Any = None
    ) -> None:
        if self.recorder is None:
            return
        identity = (compiled.name, compiled.version, compiled.sha256)
        document = {
            "ruleset": {"name": identity[0], "version": identity[1], "sha256": identity[2]},
            **request,
        }
        bloc = getattr(case, "bloc", "") or None
        period = getattr(case, "period", "") or None
        self.recorder.record(NewEvaluation(kind, identity, document, result, bloc=bloc, period=period))

    # ------------------------------------------------------------ scoring
    def _score(self, compiled: CompiledRuleset, request: ev.ScoreRequest) -> ev.ScoreResponse:
        # The per-ruleset plan (service.score_plan) reads the inputs and, without an
        # explanation, writes the response; both give exactly what the generic converters do.
        plan = score_plan(compiled)
        inputs = plan.read_inputs(request.inputs, self.source.limits)
        explain = request.explain
        unit = request.unit
        try:
            result = compiled.score(inputs, unit=unit or None, explain=explain)
        except InputError as exc:
            raise prefixed(exc, "inputs.") from None
        if self.recorder is not None:
            self._record("score", compiled, {"unit": unit, "inputs": inputs}, result)
        if not explain:
            return plan.response(result)
        return ev.ScoreResponse(
            ruleset=ruleset_pb(compiled.ref),
            result=unit_result_pb(result, explain=True, sections=criterion_sections(compiled)),
        )

    @guarded
    def Score(self, request: ev.ScoreRequest, context: grpc.ServicerContext) -> ev.ScoreResponse:
        return self._score(self.source.compiled(request.ruleset), request)

    @guarded
    def ScoreStream(
        self, request_iterator: Iterator[ev.ScoreRequest], context: grpc.ServicerContext
    ) -> Iterator[ev.ScoreResponse]:
        # One request is read only after the previous answer was handed to gRPC, whose
        # send waits for HTTP/2 flow control: a slow reader stalls us, memory stays flat.
        # Each distinct ruleset reference is resolved once per stream.
        compiled_by_ref: dict[tuple[str, str], CompiledRuleset] = {}
        for index, request in enumerate(request_iterator):
            note_item()
            key = (request.ruleset.name, request.ruleset.version)
            try:
                compiled = compiled_by_ref.get(key)
                if compiled is None:
                    compiled = self.source.compiled(request.ruleset)
                    compiled_by_ref[key] = compiled
                response = self._score(compiled, request)
            except Exception as exc:  # every item error goes into its response
                response = ev.ScoreResponse(error=item_error(exc))
                if compiled is not None:
                    response.ruleset.CopyFrom(ruleset_pb(compiled.ref))
            response.index = index
            yield response

    # ------------------------------------------------------------ blocs
    def _decide(
        self, ruleset: Any, bloc_case: ev.BlocCase, *, explain: bool, record: str | None = None
    ) -> tuple[CompiledRuleset, dict[str, Any], BlocResult]:
        from dsl.bloc import evaluate_bloc

        compiled = self.source.compiled(ruleset)
        mapping = case_to_mapping(bloc_case, self.source.limits)
        try:
            decided = evaluate_bloc(compiled, mapping, explain=explain)
        except InputError as exc:
            raise prefixed(exc, "bloc_case.") from None
        if record is not None:
            self._record(record, compiled, {"case": mapping}, decided, bloc_case)
        return compiled, mapping, decided

    @guarded
    def CheckEligibility(
        self, request: ev.CheckEligibilityRequest, context: grpc.ServicerContext
    ) -> ev.CheckEligibilityResponse:
        stored = request.stored_case if request.HasField("stored_case") else None
        case, used = case_for(self.store, request.bloc_case, stored)
        if not case.members and len(case.submissions) == 1:
            # SPEC §1.6: a title checked for a single unit reports eligibility only.
            compiled = self.source.compiled(request.ruleset)
            submission = case.submissions[0]
            inputs = score_plan(compiled).read_inputs(
                submission.inputs, self.source.limits, prefix="bloc_case.submissions[0].inputs."
            )
            try:
                # Requirement results come with the explanation; CheckEligibility always returns them.
                result = compiled.score(inputs, unit=submission.unit or None, explain=True)
            except InputError as exc:
                raise prefixed(exc, "bloc_case.submissions[0].inputs.") from None
            self._record("eligibility", compiled, {"unit": submission.unit, "inputs": inputs}, result, case)
            return ev.CheckEligibilityResponse(
                ruleset=ruleset_pb(compiled.ref),
                bloc=case.bloc,
                period=case.period,
                submissions_used=used,
                units=[
                    unit_result_pb(
                        result,
                        explain=request.explain,
                        sections=criterion_sections(compiled),
                        requirements=True,
                    )
                ],
            )
        # Requirement results come with the explanation; CheckEligibility always returns them.
        compiled, _, decided = self._decide(request.ruleset, case, explain=True, record="bloc")
        response = eligibility_pb(decided, explain=request.explain, sections=criterion_sections(compiled))
        response.submissions_used.extend(used)
        return response

    @guarded
    def ComputeRotation(
        self, request: ev.ComputeRotationRequest, context: grpc.ServicerContext
    ) -> ev.ComputeRotationResponse:
        stored = request.stored_case if request.HasField("stored_case") else None
        case, used = case_for(self.store, request.bloc_case, stored)
        compiled, mapping, decided = self._decide(request.ruleset, case, explain=False)
        if decided.rotation is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"ruleset {compiled.name}@{compiled.version} has no rotation rules",
            )
        if not request.commit and self.recorder is not None:
            # A commit records its own evaluation (with an idempotency key); a plain call is recorded here.
            self._record("rotation", compiled, {"case": mapping}, decided.rotation, case)
        response = rotation_pb(decided.rotation, compiled.ref)
        response.submissions_used.extend(used)
        if request.commit:
            commit_rotation(self.store, request, case, compiled, decided.rotation, mapping, response)
        return response
