"""InsightService: WhatIf over `dsl.whatif` (issue 9).

Converts the request (`service.convert`), asks `dsl.whatif.what_it_takes`
and converts the answer back; errors are the engine's own, mapped to
statuses by `service.errors.guarded`.
"""

from __future__ import annotations

from typing import Any

import grpc

from dsl.case import check_case
from dsl.errors import FieldViolation, InputError
from dsl.search import ENUMERATED, EXACT, SEARCH, Change, Limit
from dsl.whatif import ConditionAnswer, WhatIf, resolve_target, what_it_takes
from service.convert import case_to_mapping, inputs_to_python, ruleset_pb, to_value
from service.errors import guarded, prefixed
from service.gen.thidua.v1 import insight_pb2 as ins
from service.gen.thidua.v1 import insight_pb2_grpc as ins_grpc
from service.servicers.common import RulesetSource

_METHODS = {
    EXACT: ins.CHANGE_METHOD_EXACT,
    SEARCH: ins.CHANGE_METHOD_SEARCH,
    ENUMERATED: ins.CHANGE_METHOD_ENUMERATED,
}


class InsightServicer(ins_grpc.InsightServiceServicer):
    """Answers what-if questions; stateless apart from the compiled-ruleset cache."""

    def __init__(self, source: RulesetSource) -> None:
        self.source = source

    @guarded
    def WhatIf(self, request: ins.WhatIfRequest, context: grpc.ServicerContext) -> ins.WhatIfResponse:
        compiled = self.source.compiled(request.ruleset)
        which = request.WhichOneof("target")
        try:
            target = resolve_target(
                compiled,
                title=request.title if which == "title" else None,
                level=request.level if which == "level" else None,
            )
        except InputError as exc:
            raise InputError(
                [FieldViolation(v.field, v.message) for v in exc.violations], "request"
            ) from None
        unit = request.unit or None
        case = None
        inputs: Any = None
        if request.inputs:
            inputs = inputs_to_python(request.inputs, self.source.limits)
        if request.HasField("bloc_case"):
            case, violations = check_case(case_to_mapping(request.bloc_case, self.source.limits))
            if violations:
                raise prefixed(InputError(violations, what="case"), "bloc_case.")
            sub = case.submission(unit) if unit else None
            if sub is None:
                raise InputError(
                    [FieldViolation("unit", f"'{request.unit}' has no submission in bloc_case")], "request"
                )
            if inputs is None:
                inputs = sub.inputs
        if inputs is None:
            raise InputError([FieldViolation("inputs", "give the unit's inputs, or a bloc_case")], "request")
        only = list(request.only_inputs) or None
        try:
            answer = what_it_takes(compiled, inputs, target, unit=unit, case=case, only=only)
        except InputError as exc:
            raise prefixed(exc, "inputs.") from None
        return whatif_pb(answer)


def whatif_pb(answer: WhatIf) -> ins.WhatIfResponse:
    """A `dsl.whatif.WhatIf` as its message."""
    return ins.WhatIfResponse(
        ruleset=ruleset_pb(answer.ruleset),
        unit=answer.unit or "",
        target_kind=answer.target.kind,
        target_name=answer.target.name,
        target_label=answer.target.label,
        in_bloc=answer.in_bloc,
        status=answer.status,
        reached=answer.reached,
        conditions=[_condition_pb(c) for c in answer.conditions],
        single_changes=[_change_pb(c) for c in answer.single],
        combined=[_change_pb(c) for c in answer.combined],
        combined_reaches=answer.combined_reaches,
        notes=list(answer.notes),
    )


def _condition_pb(c: ConditionAnswer) -> ins.ConditionAnswer:
    out = ins.ConditionAnswer(
        condition=c.text,
        reason=c.reason or "",
        now=c.now,
        gap=c.gap,
        changes=[_change_pb(x) for x in c.changes],
        cannot=[_limit_pb(x) for x in c.limits],
        note=c.note,
    )
    if c.passed is not None:
        out.passed = c.passed
    return out


def _change_pb(c: Change) -> ins.InputChange:
    delta = c.delta
    return ins.InputChange(
        input=c.input,
        label=c.label or "",
        before=to_value(c.before),
        after=to_value(c.after),
        delta=format(delta, "f") if delta is not None else "",
        method=_METHODS.get(c.method, ins.CHANGE_METHOD_UNSPECIFIED),
        note=c.note,
        shows=c.shows,
        breaks=list(c.breaks),
    )


def _limit_pb(x: Limit) -> ins.InputLimit:
    return ins.InputLimit(input=x.input, reason=x.reason)
