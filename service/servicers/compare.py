"""CompareRulesets: two versions run on the same cases, structurally and behaviourally compared.

The comparison itself is `dsl.compare.Comparer` and `dsl.diff.structural_diff`
(what ``thidua diff`` prints); this module turns a request into their inputs
and their outputs into the response — with the same Markdown report as
``thidua diff --format markdown``.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import TYPE_CHECKING

import grpc

from dsl.compare import NEW, OLD, Comparer, UnitDiff
from dsl.diff import DeclChange, structural_diff
from dsl.diff_report import ReportWriter
from dsl.errors import FieldViolation, InputError
from dsl.results import fmt_decimal
from service.convert import case_to_mapping, ruleset_pb
from service.errors import RequestLimitError, ServiceError
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.servicers.common import RulesetSource

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset


def _change_pb(change: DeclChange) -> rs.StructuralChange:
    detail = "; ".join(f"{f.field}: {f.old or '–'} → {f.new or '–'}" for f in change.fields)
    return rs.StructuralChange(kind=change.kind, name=change.name, change=change.status, detail=detail)


def _unit_pb(case_index: int, u: UnitDiff, places: int) -> rs.UnitChange:
    def num(value: object) -> str:
        return fmt_decimal(value, places) if isinstance(value, Decimal) else ""

    msg = rs.UnitChange(
        case_index=case_index,
        unit=u.unit,
        score_before=num(u.old.score),
        score_after=num(u.new.score),
        level_before=u.old.level or "",
        level_after=u.new.level or "",
        rank_before=u.old.rank or 0,
        rank_after=u.new.rank or 0,
        error="; ".join(
            f"{side}: {error}" for side, error in (("base", u.old.error), ("candidate", u.new.error)) if error
        ),
    )
    for name, before, after in u.titles:
        msg.titles.add(name=name, before=before or "", after=after or "")
    for move in u.criteria:
        msg.criteria.add(name=move.name, before=num(move.old), after=num(move.new))
    return msg


def _candidate(source: RulesetSource, request: rs.CompareRulesetsRequest) -> CompiledRuleset:
    which = request.WhichOneof("candidate")
    if which == "candidate_ref":
        return source.compiled(request.candidate_ref, "candidate_ref")
    if which == "candidate_source":
        _resolved, compiled = source.compile_text(request.candidate_source, "<candidate>", "candidate_source")
        return compiled
    raise InputError(
        [
            FieldViolation(
                "candidate", "give candidate_ref (a published version) or candidate_source (its text)"
            )
        ],
        what="request",
    )


def compare_rulesets(source: RulesetSource, request: rs.CompareRulesetsRequest) -> rs.CompareRulesetsResponse:
    """Run ``request.base`` and the candidate on every case; say what changed."""
    limits = source.limits
    if len(request.cases) > limits.max_cases:
        raise RequestLimitError(
            "max_cases",
            "cases",
            f"{len(request.cases)} cases, more than the {limits.max_cases} allowed in one call",
        )
    if request.HasField("stored_cases"):
        raise ServiceError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "comparing on stored submissions needs the database; send the cases inline",
        )
    base = source.compiled(request.base, "base")
    candidate = _candidate(source, request)
    # Convert every case first, so that a bad one is refused before any work is done.
    mappings = [case_to_mapping(c, limits, prefix=f"cases[{i}].") for i, c in enumerate(request.cases)]
    structure = structural_diff(base.ruleset, candidate.ruleset)
    report = io.StringIO()
    writer = ReportWriter(report, "markdown", base, candidate, structure)
    places = max(base.places, candidate.places)
    response = rs.CompareRulesetsResponse(
        base=ruleset_pb(base.ref),
        candidate=ruleset_pb(candidate.ref),
        changes=[_change_pb(c) for c in structure.changes],
    )
    comparer = Comparer(base, candidate)
    for index, mapping in enumerate(mappings):
        diff = comparer.compare(f"cases[{index}]", mapping)
        writer.add(diff)
        for side, name in ((OLD, "base"), (NEW, "candidate")):
            if diff.error[side]:
                response.notes.append(f"cases[{index}]: with the {name} ruleset: {diff.error[side]}")
        response.units.extend(_unit_pb(index, u, places) for u in diff.units if u.changed)
    summary = writer.finish()
    response.summary.CopyFrom(
        rs.CompareSummary(
            units=summary.units,
            changed=summary.units_changed,
            levels_up=summary.levels_up,
            levels_down=summary.levels_down,
            titles_gained=sum(summary.titles_gained.values()),
            titles_lost=sum(summary.titles_lost.values()),
            rotations_changed=summary.rotation_changes,
        )
    )
    response.notes.extend(writer.notes())
    response.markdown = report.getvalue()
    return response
