"""costs: the per-attempt cost record and preview-then-commit links

Revision ID: 0003_costs
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_costs"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_cost",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("shot_key", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("quoted_usd", sa.Float(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("settled_usd", sa.Float(), nullable=True),
        sa.Column("judge_usd", sa.Float(), nullable=False),
        sa.Column("computed_usd", sa.Float(), nullable=False),
        sa.Column("reported_usd", sa.Float(), nullable=True),
        sa.Column("drift", sa.Float(), nullable=True),
        sa.Column("drift_flagged", sa.Boolean(), nullable=False),
        sa.Column("seconds_planned", sa.Float(), nullable=False),
        sa.Column("seconds_requested", sa.Float(), nullable=False),
        sa.Column("seconds_accepted", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("defects", sa.JSON(), nullable=False),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("render_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_attempt_cost_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_attempt_cost_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_attempt_cost")),
    )
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_cost_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_cost_tenant"), ["tenant"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_cost_model_id"), ["model_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attempt_cost_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "job_commit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("preview_job_id", sa.String(length=32), nullable=False),
        sa.Column("final_job_id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("shots", sa.JSON(), nullable=False),
        sa.Column("kept", sa.JSON(), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("final_usd_by_shot", sa.JSON(), nullable=False),
        sa.Column("agreement", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["final_job_id"],
            ["job.id"],
            name=op.f("fk_job_commit_final_job_id_job"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["preview_job_id"],
            ["job.id"],
            name=op.f("fk_job_commit_preview_job_id_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_commit")),
        sa.UniqueConstraint("final_job_id", name=op.f("uq_job_commit_final_job_id")),
    )
    with op.batch_alter_table("job_commit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_commit_preview_job_id"), ["preview_job_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_job_commit_tenant"), ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_commit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_commit_tenant"))
        batch_op.drop_index(batch_op.f("ix_job_commit_preview_job_id"))
    op.drop_table("job_commit")
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_cost_created_at"))
        batch_op.drop_index(batch_op.f("ix_attempt_cost_model_id"))
        batch_op.drop_index(batch_op.f("ix_attempt_cost_tenant"))
        batch_op.drop_index(batch_op.f("ix_attempt_cost_job_id"))
    op.drop_table("attempt_cost")
