"""money: which cost records are emulated spend, and which kept shots a commit's reviewer declined

Revision ID: 0005_money
Revises: 0004_billing
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_money"
down_revision = "0004_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emulated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_attempt_cost_emulated"), ["emulated"], unique=False)
    with op.batch_alter_table("job_commit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected", sa.JSON(), nullable=True))
    # the records of jobs that ran on emulated providers were booked as spend: mark them
    op.execute(
        "UPDATE attempt_cost SET emulated = COALESCE("
        "(SELECT job.providers = 'emulated' FROM job WHERE job.id = attempt_cost.job_id), 0 = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("job_commit", schema=None) as batch_op:
        batch_op.drop_column("rejected")
    with op.batch_alter_table("attempt_cost", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_cost_emulated"))
        batch_op.drop_column("emulated")
