"""Rows in, records out: converting stored rows to frozen records, and checking names before a write.

Kept apart from `service.db.repository` so that the repository reads as the
list of operations it offers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dsl.errors import FieldViolation
from service.db import canonical
from service.db.models import EvaluationRow, HolderRow, RulesetVersionRow, SubmissionRow
from service.db.records import Holders, StoredEvaluation, StoredRuleset, StoredSubmission

#: Maximum lengths of names, as the columns declare them.
NAME_MAX, PERIOD_MAX, KEY_MAX, VERSION_MAX, LABEL_MAX, KIND_MAX = 200, 50, 200, 100, 500, 32


def aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes: every stored moment is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def maybeaware(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def require_name(value: str, field: str, limit: int, problems: list[FieldViolation]) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(FieldViolation(field, "must not be empty"))
    else:
        problems += too_long(value, field, limit)


def key_problem(key: str | None, field: str) -> list[FieldViolation]:
    if key is None:
        return []
    if not key or len(key) > KEY_MAX:
        return [FieldViolation(field, f"an idempotency key has 1 to {KEY_MAX} characters")]
    return []


def ruleset_record(row: RulesetVersionRow) -> StoredRuleset:
    assert row.id is not None
    return StoredRuleset(
        id=row.id,
        name=row.name,
        version=row.version,
        source=row.source,
        resolved_source=row.resolved_source,
        sha256=row.sha256,
        status=row.status,
        author=row.author,
        created_at=aware(row.created_at),
        published_at=maybeaware(row.published_at),
        retired_at=maybeaware(row.retired_at),
    )


def submission_record(row: SubmissionRow, bloc: str) -> StoredSubmission:
    assert row.id is not None
    return StoredSubmission(
        id=row.id,
        bloc=bloc,
        unit=row.unit,
        period=row.period,
        stage=row.stage,
        revision=row.revision,
        inputs=canonical.loads(row.inputs),
        content_sha256=row.content_sha256,
        idempotency_key=row.idempotency_key,
        author=row.author,
        created_at=aware(row.created_at),
    )


def evaluation_record(row: EvaluationRow) -> StoredEvaluation:
    assert row.id is not None
    return StoredEvaluation(
        id=row.id,
        kind=row.kind,
        ruleset_name=row.ruleset_name,
        ruleset_version=row.ruleset_version,
        ruleset_sha256=row.ruleset_sha256,
        bloc=row.bloc,
        period=row.period,
        request=canonical.loads(row.request),
        result=canonical.loads(row.result),
        idempotency_key=row.idempotency_key,
        author=row.author,
        created_at=aware(row.created_at),
    )


def holders_record(row: HolderRow, bloc: str) -> Holders:
    return Holders(
        bloc=bloc,
        period=row.period,
        leader=row.leader,
        deputy=row.deputy,
        evaluation_id=row.evaluation_id,
        author=row.author,
        created_at=aware(row.created_at),
    )


def too_long(value: str | None, field: str, limit: int) -> list[FieldViolation]:
    """A violation when an optional text is longer than its column allows."""
    if value is not None and len(value) > limit:
        return [FieldViolation(field, f"is {len(value)} characters long; at most {limit} allowed")]
    return []
