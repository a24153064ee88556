"""attempt.stage: which stage of its shot an attempt tries (video, tts), instead of the sign of
its number

Revision ID: 0007_attempt_stage
Revises: 0006_draft_cost
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_attempt_stage"
down_revision = "0006_draft_cost"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "attempt",
        sa.Column("stage", sa.String(length=16), nullable=False, server_default="video"),
    )
    op.execute("UPDATE attempt SET stage = 'tts' WHERE number < 0")


def downgrade() -> None:
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("stage")
