"""Initial schema: ruleset versions, blocs and members, submissions, evaluations, holders.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ruleset_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("resolved_source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        _when("created_at"),
        _when("published_at", nullable=True),
        _when("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ruleset_version"),
        sa.UniqueConstraint("name", "version", name="uq_ruleset_version_name_version"),
        sa.CheckConstraint("status IN ('draft', 'published', 'retired')", name="ck_ruleset_version_status"),
    )
    op.create_index("ix_ruleset_version_name", "ruleset_version", ["name"])
    op.create_index("ix_ruleset_version_sha256", "ruleset_version", ["sha256"])

    op.create_table(
        "bloc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_bloc"),
        sa.UniqueConstraint("name", name="uq_bloc_name"),
    )

    op.create_table(
        "bloc_member",
        sa.Column("bloc_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["bloc_id"], ["bloc.id"], name="fk_bloc_member_bloc_id_bloc", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bloc_id", "position", name="pk_bloc_member"),
        sa.UniqueConstraint("bloc_id", "unit", name="uq_bloc_member_bloc_id_unit"),
    )

    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bloc_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=50), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["bloc_id"], ["bloc.id"], name="fk_submission_bloc_id_bloc", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_submission"),
        sa.UniqueConstraint(
            "bloc_id",
            "unit",
            "period",
            "stage",
            "revision",
            name="uq_submission_bloc_id_unit_period_stage_revision",
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_submission_idempotency_key"),
        sa.CheckConstraint("stage IN ('self', 'reviewed', 'approved')", name="ck_submission_stage"),
    )
    op.create_index("ix_submission_bloc_id_period", "submission", ["bloc_id", "period"])

    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ruleset_name", sa.String(length=200), nullable=False),
        sa.Column("ruleset_version", sa.String(length=100), nullable=False),
        sa.Column("ruleset_sha256", sa.String(length=64), nullable=False),
        sa.Column("bloc", sa.String(length=200), nullable=True),
        sa.Column("period", sa.String(length=50), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation"),
        sa.UniqueConstraint("idempotency_key", name="uq_evaluation_idempotency_key"),
    )
    op.create_index("ix_evaluation_ruleset_sha256", "evaluation", ["ruleset_sha256"])
    op.create_index("ix_evaluation_bloc_period", "evaluation", ["bloc", "period"])

    op.create_table(
        "bloc_holder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bloc_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=50), nullable=False),
        sa.Column("leader", sa.String(length=200), nullable=True),
        sa.Column("deputy", sa.String(length=200), nullable=True),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["bloc_id"], ["bloc.id"], name="fk_bloc_holder_bloc_id_bloc", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
            name="fk_bloc_holder_evaluation_id_evaluation",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bloc_holder"),
        sa.UniqueConstraint("bloc_id", "period", name="uq_bloc_holder_bloc_id_period"),
    )


def downgrade() -> None:
    op.drop_table("bloc_holder")
    op.drop_index("ix_evaluation_bloc_period", table_name="evaluation")
    op.drop_index("ix_evaluation_ruleset_sha256", table_name="evaluation")
    op.drop_table("evaluation")
    op.drop_index("ix_submission_bloc_id_period", table_name="submission")
    op.drop_table("submission")
    op.drop_table("bloc_member")
    op.drop_table("bloc")
    op.drop_index("ix_ruleset_version_sha256", table_name="ruleset_version")
    op.drop_index("ix_ruleset_version_name", table_name="ruleset_version")
    op.drop_table("ruleset_version")
