"""distributed engine: the pipeline_step table (next step, due time, lease) for the reaper

Revision ID: 0003_distributed
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_distributed"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_step",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("since", sa.Float(), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("reaped", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["job.id"],
            name=op.f("fk_pipeline_step_job_id_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pipeline_step")),
    )
    with op.batch_alter_table("pipeline_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_step_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_step_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pipeline_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_step_due_at"))
        batch_op.drop_index(batch_op.f("ix_pipeline_step_job_id"))
    op.drop_table("pipeline_step")
