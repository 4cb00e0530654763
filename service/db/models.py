"""The stored tables, as sqlmodel classes: the schema the Alembic migrations create.

These classes are the persistence layer's private vocabulary: the repository
(`service.db.repository`) reads and writes them and hands out frozen records,
never these mutable objects. Every invariant the database can keep is
declared here so that it holds whatever process writes — one row per ruleset
name and version, one row per idempotency key, one holder row per bloc and
period, stages and statuses from a closed set — and a change here needs a new
migration under ``migrations/versions`` (a test compares the two).

JSON documents (submission inputs, evaluation requests and results) are kept
as canonical JSON text, not a JSON column type: the text is what gets hashed,
its decimals stay exact, and SQLite and PostgreSQL store it alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

#: Ruleset version statuses. Only ``draft`` content may change.
DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
STATUSES = (DRAFT, PUBLISHED, RETIRED)

#: Submission stages in order: self-assessed (tự chấm) → reviewed by the bloc → approved (điểm duyệt).
STAGES = ("self", "reviewed", "approved")

#: One naming convention so that constraint names are the same on every database and in migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when() -> sa.Column[datetime]:
    return sa.Column(sa.DateTime(timezone=True), nullable=False)


def _text(nullable: bool = False) -> sa.Column[str]:
    return sa.Column(sa.Text, nullable=nullable)


def _in(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


class RulesetVersionRow(SQLModel, table=True):
    """One version of one ruleset: its text, its resolved flat text and that text's SHA-256."""

    __tablename__ = "ruleset_version"
    __table_args__ = (
        sa.UniqueConstraint("name", "version"),
        _in("status", STATUSES, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    version: str = Field(max_length=100)
    source: str = Field(sa_column=_text())
    resolved_source: str = Field(sa_column=_text())
    sha256: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16)
    author: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_when())
    published_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    retired_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class BlocRow(SQLModel, table=True):
    """An emulation bloc (khối thi đua), named by a stable code such as ``khoi3``."""

    __tablename__ = "bloc"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    label: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=_when())
    updated_at: datetime = Field(sa_column=_when())


class BlocMemberRow(SQLModel, table=True):
    """A unit of a bloc at its place in the agreed rotation order (0 = first)."""

    __tablename__ = "bloc_member"
    __table_args__ = (sa.UniqueConstraint("bloc_id", "unit"),)

    bloc_id: int = Field(foreign_key="bloc.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)
    unit: str = Field(max_length=200)


class SubmissionRow(SQLModel, table=True):
    """One write of one unit's inputs for a period at a stage; rows are never updated.

    A later write of the same stage is a new ``revision``; the latest revision of
    the latest stage is what evaluation uses unless a stage is named.
    """

    __tablename__ = "submission"
    __table_args__ = (
        sa.UniqueConstraint("bloc_id", "unit", "period", "stage", "revision"),
        sa.Index("ix_submission_bloc_id_period", "bloc_id", "period"),
        _in("stage", STAGES, "stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bloc_id: int = Field(foreign_key="bloc.id", ondelete="CASCADE")
    unit: str = Field(max_length=200)
    period: str = Field(max_length=50)
    stage: str = Field(max_length=16)
    revision: int
    inputs: str = Field(sa_column=_text())
    content_sha256: str = Field(max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    author: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_when())


class EvaluationRow(SQLModel, table=True):
    """One evaluation the service ran: what was asked, what was answered, by which ruleset."""

    __tablename__ = "evaluation"
    __table_args__ = (sa.Index("ix_evaluation_bloc_period", "bloc", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    ruleset_name: str = Field(max_length=200)
    ruleset_version: str = Field(max_length=100)
    ruleset_sha256: str = Field(max_length=64, index=True)
    bloc: str | None = Field(default=None, max_length=200)
    period: str | None = Field(default=None, max_length=50)
    request: str = Field(sa_column=_text())
    result: str = Field(sa_column=_text())
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    author: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_when())


class HolderRow(SQLModel, table=True):
    """Who leads (khối trưởng) and deputizes (khối phó) a bloc in one period."""

    __tablename__ = "bloc_holder"
    __table_args__ = (sa.UniqueConstraint("bloc_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    bloc_id: int = Field(foreign_key="bloc.id", ondelete="CASCADE")
    period: str = Field(max_length=50)
    leader: str | None = Field(default=None, max_length=200)
    deputy: str | None = Field(default=None, max_length=200)
    evaluation_id: int | None = Field(default=None, foreign_key="evaluation.id", ondelete="SET NULL")
    author: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_when())
