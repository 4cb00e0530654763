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

from dsl.compare import NEW, OLD, Comparer, UnitDiff
from dsl.diff import DeclChange, structural_diff
from dsl.diff_report import ReportWriter
from dsl.errors import FieldViolation, InputError
from dsl.results import fmt_decimal
from service.convert import case_to_mapping, ruleset_pb
from service.errors import RequestLimitError
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.servicers.common import RulesetSource
from service.servicers.stored_cases import case_for

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from service.servicers.blocs import BlocStore


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


def compare_rulesets(
    source: RulesetSource, request: rs.CompareRulesetsRequest, store: BlocStore | None = None
) -> rs.CompareRulesetsResponse:
    """Run ``request.base`` and the candidate on every case (inline, or a bloc's stored
    submissions for a period); say what changed."""
    limits = source.limits
    if len(request.cases) > limits.max_cases:
        raise RequestLimitError(
            "max_cases",
            "cases",
            f"{len(request.cases)} cases, more than the {limits.max_cases} allowed in one call",
        )
    cases, prefix = list(request.cases), "cases[{}]."
    if request.HasField("stored_cases"):
        cases, prefix = [_stored_case(store, request)], "stored_cases."
    base = source.compiled(request.base, "base")
    candidate = _candidate(source, request)
    # Convert every case first, so that a bad one is refused before any work is done.
    mappings = [case_to_mapping(c, limits, prefix=prefix.format(i)) for i, c in enumerate(cases)]
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


def _stored_case(store: BlocStore | None, request: rs.CompareRulesetsRequest) -> ev.BlocCase:
    """The case the store holds for ``stored_cases``: each unit's latest-stage submission."""
    stored = request.stored_cases
    problems = [
        FieldViolation(f"stored_cases.{f}", "required")
        for f in ("bloc", "period")
        if not getattr(stored, f).strip()
    ]
    if request.cases:
        problems.append(FieldViolation("stored_cases", "give either cases or stored_cases, not both"))
    if problems:
        raise InputError(problems, what="request")
    case, _used = case_for(store, ev.BlocCase(), ev.StoredCaseRef(bloc=stored.bloc, period=stored.period))
    return case
