"""attempt status up to 32 characters (``submission_unknown``)

Revision ID: 0003_attempt_status
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_attempt_status"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt") as batch:
        batch.alter_column("status", existing_type=sa.String(16), type_=sa.String(32))


def downgrade() -> None:
    with op.batch_alter_table("attempt") as batch:
        batch.alter_column("status", existing_type=sa.String(32), type_=sa.String(16))
